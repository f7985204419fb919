import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { AttachRegistry } from './attach.js';
import type { LogStore } from './log-files.js';
import type { RequestCounter } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { PodStore } from './pods.js';

/** What the request handlers of one emulated kubelet share. */
export interface KubeletContext {
  options: ResolvedOptions;
  pods: PodStore;
  logs: LogStore;
  requests: RequestCounter;
  events: EventEmitter;
  /** cwd of exec and attach processes. */
  workDir: string;
  startTime: Date;
  /** Stop functions of the open log-follow responses. */
  followers: Set<() => void>;
  /** Open WebSockets (exec, attach, port-forward), terminated by close(). */
  sockets: Set<WebSocket>;
  /** Running exec processes, killed by close(). */
  children: Set<ChildProcess>;
  attach: AttachRegistry;
  execsStarted: number;
}

/** Names a container for events and status messages. */
export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { Channel, encodeStatus, frame, parseResize, protocolVersion } from './channel.js';
import type { Status } from './channel.js';

/** Bytes queued in a WebSocket above which process output is paused. */
export const SEND_HIGH_WATER = 1024 * 1024;
/** Bytes queued below which paused output resumes. */
export const SEND_LOW_WATER = 256 * 1024;

/** The query parameters of exec and attach. */
export interface StreamOptions {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Reads exec/attach parameters; returns the kubelet's 400 sentence when they are unusable. */
export function parseStreamOptions(params: URLSearchParams, needsCommand: boolean): StreamOptions | string {
  const flag = (name: string): boolean => params.get(name) === 'true' || params.get(name) === '1';
  const options = {
    command: params.getAll('command'),
    stdin: flag('stdin'),
    stdout: flag('stdout'),
    stderr: flag('stderr'),
    tty: flag('tty'),
  };
  if (needsCommand && options.command.length === 0) return 'you must specify at least one command for the container';
  if (!options.stdin && !options.stdout && !options.stderr) {
    return 'you must specify at least 1 of stdin, stdout, stderr';
  }
  // Like the kubelet: with a tty, stderr is merged into stdout.
  if (options.tty) options.stderr = false;
  return options;
}

export interface StreamHandlers {
  stdin(data: Buffer): void;
  closeStdin(): void;
  resize(width: number, height: number): void;
}

/** One exec or attach WebSocket: demultiplexes client messages and frames process output. */
export class StreamSession {
  readonly version: number;
  bytesIn = 0;
  bytesOut = 0;
  #waitingForDrain = false;

  constructor(
    readonly ws: WebSocket,
    readonly protocol: string,
    handlers: StreamHandlers,
  ) {
    this.version = protocolVersion(protocol);
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const payload = data.subarray(1);
      switch (data[0]) {
        case Channel.stdin:
          this.bytesIn += payload.length;
          return handlers.stdin(payload);
        case Channel.resize: {
          const size = this.version >= 3 ? parseResize(payload) : undefined;
          return size && handlers.resize(size.width, size.height);
        }
        case Channel.close:
          if (this.version >= 5 && payload[0] === Channel.stdin) handlers.closeStdin();
          return;
        default:
          return; // frames for other channels are ignored, as by the kubelet
      }
    });
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Like the kubelet: an empty message on the lowest writable channel tells the client we are ready. */
  announce(options: StreamOptions): void {
    this.send(options.stdout ? Channel.stdout : options.stderr ? Channel.stderr : Channel.error, Buffer.alloc(0));
  }

  send(channel: number, data: Buffer, done?: () => void): void {
    if (!this.open) return done?.();
    if (channel === Channel.stdout || channel === Channel.stderr) this.bytesOut += data.length;
    this.ws.send(frame(channel, data), () => done?.());
  }

  /** Frames a process stream onto a channel, pausing it while the WebSocket is backed up. */
  pipeOutput(source: Readable, channel: number): void {
    let paused = false;
    source.on('data', (chunk: Buffer) => {
      this.send(channel, chunk, () => {
        if (paused && this.ws.bufferedAmount <= SEND_LOW_WATER) {
          paused = false;
          source.resume();
        }
      });
      if (this.ws.bufferedAmount > SEND_HIGH_WATER) {
        paused = true;
        source.pause();
      }
    });
  }

  /** Writes client stdin to a process, pausing the WebSocket until the process drains. */
  writeInput(target: Writable, data: Buffer): void {
    if (target.destroyed || target.writableEnded) return;
    if (target.write(data) || this.#waitingForDrain) return;
    this.#waitingForDrain = true;
    this.ws.pause();
    const resume = (): void => {
      target.off('drain', resume);
      target.off('close', resume);
      this.#waitingForDrain = false;
      this.ws.resume();
    };
    target.on('drain', resume);
    target.on('close', resume);
  }

  /** Sends the final status (if the protocol has one for it) and closes the WebSocket normally. */
  finish(status: Status): void {
    if (!this.open) return;
    const payload = encodeStatus(status, this.version);
    if (payload) this.send(Channel.error, payload);
    this.ws.close(1000);
  }
}

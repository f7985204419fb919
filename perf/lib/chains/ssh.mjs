// OpenSSH port forwarding over one connection: our own sshd on 127.0.0.1 (throwaway host and user
// keys in a temp dir, a generated sshd_config) and `ssh -N -L`. `compress` adds ssh -C.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnProc } from '../procs.mjs';
import { freePort, stopAll, viaLink, waitForPort } from './util.mjs';

const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));

/** undefined when ssh can run here, else the reason it cannot */
export function sshUnavailable() {
  if (!SSHD) return 'sshd not found (Debian package openssh-server)';
  try {
    execFileSync('ssh', ['-V'], { stdio: 'ignore' });
    execFileSync('ssh-keygen', ['--help'], { stdio: 'ignore' });
  } catch (err) {
    if (err.code === 'ENOENT') return 'ssh or ssh-keygen not found (Debian package openssh-client)';
  }
  return undefined;
}

/** @param {import('./index.mjs').Env} env @returns {import('./index.mjs').Chain} */
export function sshChain(env, { compress = false } = {}) {
  /** @type {import('./util.mjs').ProcEntry[]} */
  const procs = [];
  const dir = join(env.tmp, compress ? 'ssh-c' : 'ssh');
  const keys = () => {
    if (existsSync(join(dir, 'user'))) return;
    mkdirSync(dir, { recursive: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user')]);
    execFileSync('cp', [join(dir, 'user.pub'), join(dir, 'authorized_keys')]);
    mkdirSync('/run/sshd', { recursive: true }); // privilege separation directory
  };
  return {
    name: compress ? 'openssh-C' : 'openssh',
    label: compress ? 'OpenSSH -L, compression (-C)' : 'OpenSSH -L (one connection)',
    kind: 'mux',
    async start(opts = {}) {
      keys();
      const port = await freePort();
      writeFileSync(
        join(dir, 'sshd_config'),
        [
          `ListenAddress 127.0.0.1:${port}`,
          `HostKey ${join(dir, 'host')}`,
          'PidFile none',
          'UsePAM no',
          'PermitRootLogin prohibit-password',
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          'StrictModes no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'AllowTcpForwarding yes',
          'MaxStartups 100',
          'LogLevel ERROR',
          '',
        ].join('\n'),
      );
      const sshd = spawnProc('sshd', SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')]);
      procs.push({ role: 'sshd', proc: sshd, measured: true });
      await waitForPort('127.0.0.1', port, 10_000, sshd.alive);
      const wan = await viaLink(opts.link, '127.0.0.1', port, procs);
      const local = await freePort();
      const user = process.env.USER || 'root';
      const ssh = spawnProc('ssh', 'ssh', [
        '-N',
        '-L',
        `127.0.0.1:${local}:${env.sink.host}:${env.sink.port}`,
        '-p',
        String(wan.port),
        '-i',
        join(dir, 'user'),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ExitOnForwardFailure=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'LogLevel=ERROR',
        ...(compress ? ['-C'] : []),
        `${user}@127.0.0.1`,
      ]);
      procs.push({ role: 'ssh', proc: ssh, measured: true });
      await waitForPort('127.0.0.1', local, 15_000, ssh.alive);
      return { endpoint: { host: '127.0.0.1', port: local }, procs };
    },
    stop: () => stopAll(procs),
  };
}

// The real kubectl 1.32 against the fake API server, whose kubelet proxy reaches the emulated
// kubelets only through the edge-tunnel server's CONNECT frontend and the agents' tunnels
// (loopback/CONNECT mode): get, logs (-f, --tail, --since), exec (exit codes, -i with 10 MiB, -it),
// attach, port-forward, cp both ways, and agent deaths in the middle of logs -f and exec.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { freePort } from '../src/kubectl/testbed.js';
import { exitWithin, streaming, waitFor } from './fixtures/kubectl-helpers.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';

const skip = kubectlMissing() ?? false;

t.test('kubectl end to end (loopback/CONNECT)', { skip }, async (t) => {
  const { tb, labLog } = await withKubectlTestbed(t, 147);
  t.teardown(() => {
    if (t.passing()) return;
    t.comment(labLog.slice(-40).join('\n'));
  });
  const k = tb.kubectl;
  const kubelet = tb.lab.kubelets.get('edge-a')!;
  const mode = tb.mode;

  t.test(`${mode}: get pods, get nodes`, async (t) => {
    const pods = await k.run(['get', 'pods']);
    t.equal(pods.code, 0, pods.stderr);
    t.match(pods.stdout.toString(), /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\ndemo\s+2\/2\s+Running\s+0\s/);
    const nodes = await k.run(['get', 'nodes']);
    t.equal(nodes.code, 0, nodes.stderr);
    t.match(nodes.stdout.toString(), /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\nedge-a\s+Ready\s+edge\s+\S+\s+v1\.32\.0\nedge-b\s+Ready\s+edge\s/);
    const ips = await k.run(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.addresses[0].address} {end}']);
    t.equal(ips.stdout.toString(), 'edge-a=127.0.147.1 edge-b=127.0.147.2 ', 'InternalIPs are the lab node IPs');
  });

  t.test(`${mode}: logs, --tail, --since, a missing container`, async (t) => {
    kubelet.appendLog('default', 'demo', 'app', 'marker one');
    kubelet.appendLog('default', 'demo', 'app', 'marker two');
    // The emulator adds a generated line every second, so assertions allow lines after the markers.
    const all = await k.run(['logs', 'demo', '-c', 'app']);
    t.equal(all.code, 0, all.stderr);
    t.match(all.stdout.toString(), /^\S+ edge-a\/demo\/app line 1\n[^]*\nmarker one\nmarker two\n/, 'the whole log, from the kubelet on edge-a');
    const tail = await k.run(['logs', 'demo', '-c', 'app', '--tail=2']);
    const tailLines = tail.stdout.toString().split('\n').filter((l) => l !== '');
    t.equal(tailLines.length, 2, '--tail=2: two lines');
    const later = await k.run(['logs', 'demo', '-c', 'app']);
    t.ok(later.stdout.toString().includes(`\n${tailLines.join('\n')}\n`), '--tail=2: consecutive lines of the log');
    t.match(tb.api.requests.filter((r) => r.path.endsWith('/log')).at(-2)?.query, { container: 'app', tailLines: '2' });
    const since = await k.run(['logs', 'demo', '-c', 'app', '--since=1h']);
    t.match(since.stdout.toString(), /^\S+ edge-a\/demo\/app line 1\n[^]*\nmarker two\n/, '--since=1h keeps every line');
    t.match(tb.api.requests.filter((r) => r.path.endsWith('/log')).at(-1)?.query, { container: 'app', sinceSeconds: '3600' });
    const recent = await k.run(['logs', 'demo', '-c', 'app', '--since=2s', '--timestamps']);
    t.notMatch(recent.stdout.toString(), / line 1\n/, '--since=2s drops the first line, written seconds ago');
    const sidecar = await k.run(['logs', 'demo', '-c', 'sidecar', '--tail=1']);
    t.match(sidecar.stdout.toString(), /edge-a\/demo\/sidecar line \d+\n$/, '-c sidecar');
    const missing = await k.run(['logs', 'demo', '-c', 'nope']);
    t.equal(missing.code, 1);
    t.match(missing.stderr, 'container nope is not valid for pod demo');
    const noPod = await k.run(['logs', 'ghost']);
    t.match(noPod.stderr, 'pods "ghost" not found');
  });

  t.test(`${mode}: logs -f streams, and SIGINT to kubectl closes the kubelet follower within 1 s`, async (t) => {
    const s = streaming(k.spawn(['logs', '-f', 'demo', '-c', 'app', '--tail=1']));
    await waitFor('the follower on the kubelet', () => kubelet.activeFollowers() === 1 && s.out().length > 0);
    kubelet.appendLog('default', 'demo', 'app', 'followed line');
    await waitFor('the appended line at kubectl', () => s.out().includes('followed line\n'), 5000);
    const sent = Date.now();
    s.child.kill('SIGINT');
    await waitFor('the kubelet follower to go away', () => kubelet.activeFollowers() === 0, 1000);
    t.pass(`follower closed ${Date.now() - sent} ms after SIGINT`);
    t.ok(await exitWithin(s, 5000), 'kubectl exited');
  });

  t.test(`${mode}: exec reports stdout and the exit code`, async (t) => {
    const r = await k.run(['exec', 'demo', '-c', 'app', '--', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    t.equal(r.stdout.toString(), 'hi\n');
    t.match(r.stderr, /^oops\ncommand terminated with exit code 3\n$/);
    t.equal(r.code, 3, 'exit code 3');
    const ok = await k.run(['exec', 'demo', '-c', 'sidecar', '--', 'sh', '-c', 'echo $HOSTNAME $NODE_NAME']);
    t.equal(ok.code, 0, ok.stderr);
    t.equal(ok.stdout.toString(), 'demo edge-a\n', 'ran on edge-a');
  });

  t.test(`${mode}: exec -i carries 10 MiB of stdin intact`, async (t) => {
    const input = randomBytes(10 * 1024 * 1024);
    const r = await k.run(['exec', '-i', 'demo', '-c', 'app', '--', 'sha256sum'], { input, timeoutMs: 40_000 });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString().split(' ')[0], createHash('sha256').update(input).digest('hex'), `SHA-256 equal (${r.durationMs} ms)`);
  });

  t.test(`${mode}: exec -it runs with a TTY (kubectl under script(1))`, async (t) => {
    const starts: Array<{ tty: boolean }> = [];
    const onStart = (e: { tty: boolean }): number => starts.push(e);
    kubelet.events.on('exec-start', onStart);
    t.teardown(() => void kubelet.events.off('exec-start', onStart));
    const inner = k.commandLine(['exec', '-it', 'demo', '-c', 'app', '--', 'sh', '-c', 'read x; echo "got:$x TERM=$TERM"; echo "to stderr" >&2']);
    const child = spawn('script', ['-qec', inner, '/dev/null'], { env: k.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    const s = streaming(child);
    await waitFor('the exec session', () => starts.length === 1);
    // kubectl puts the terminal in raw mode and forwards bytes as typed; the emulator's process
    // has pipes rather than a pty, so it is the newline that ends its `read`.
    child.stdin!.write('typed\n');
    const exit = await exitWithin(s, 10_000);
    t.equal(exit?.code, 0, s.err());
    t.match(s.out(), /got:typed TERM=xterm\r?\n/, 'the line typed on the terminal reached the process');
    t.match(s.out(), /to stderr/, 'stderr shares the terminal');
    t.equal(starts[0]?.tty, true, 'the kubelet saw tty=true');
  });

  t.test(`${mode}: attach -i to the container's process`, async (t) => {
    const s = streaming(k.spawn(['attach', 'demo', '-c', 'app', '-i']));
    // The attached process is `cat`: what goes in comes back out.
    await waitFor('the attach prompt', () => s.err().includes("If you don't see a command prompt"));
    await waitFor('the echo', () => {
      s.child.stdin!.write('ping\n');
      return s.out().includes('ping\n');
    }, 10_000).catch((err: Error) => t.fail(err.message));
    t.match(s.out(), /ping\n/, 'input echoed back through the attached process');
    s.child.kill('SIGINT');
    t.ok(await exitWithin(s, 5000), 'kubectl attach ended on SIGINT');
  });

  t.test(`${mode}: port-forward carries an HTTP request`, async (t) => {
    const http = createServer((req, res) => res.end(`hello from the pod: ${req.method} ${req.url}\n`));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    t.teardown(() => void http.close());
    const podPort = (http.address() as AddressInfo).port;
    const localPort = await freePort();
    const s = streaming(k.spawn(['port-forward', 'pod/demo', `${localPort}:${podPort}`]));
    t.teardown(() => void s.child.kill('SIGKILL'));
    await waitFor('port-forward to listen', () => s.out().includes('Forwarding from 127.0.0.1'), 10_000);
    for (const path of ['/one', '/two']) {
      const res = await fetch(`http://127.0.0.1:${localPort}${path}`);
      t.equal(await res.text(), `hello from the pod: GET ${path}\n`, `GET ${path} through port-forward`);
    }
    s.child.kill('SIGINT');
    t.ok(await exitWithin(s, 5000), 'kubectl port-forward ended on SIGINT');
  });

  t.test(`${mode}: cp to the pod and back`, async (t) => {
    const dir = join(tb.dir, 'cp');
    mkdirSync(dir);
    const content = randomBytes(300 * 1024);
    writeFileSync(join(dir, 'up.bin'), content);
    const remote = `/tmp/edge-tunnel-kubectl-cp-${process.pid}-${Date.now()}`;
    t.teardown(() => k.run(['exec', 'demo', '-c', 'app', '--', 'rm', '-rf', remote]).then(() => undefined));
    const mk = await k.run(['exec', 'demo', '-c', 'app', '--', 'mkdir', '-p', remote]);
    t.equal(mk.code, 0, mk.stderr);
    const up = await k.run(['cp', join(dir, 'up.bin'), `demo:${remote}/up.bin`, '-c', 'app']);
    t.equal(up.code, 0, up.stderr);
    const sum = await k.run(['exec', 'demo', '-c', 'app', '--', 'sha256sum', `${remote}/up.bin`]);
    t.equal(sum.stdout.toString().split(' ')[0], createHash('sha256').update(content).digest('hex'), 'cp to the pod: same bytes');
    const down = await k.run(['cp', `demo:${remote}/up.bin`, join(dir, 'down.bin'), '-c', 'app']);
    t.equal(down.code, 0, down.stderr);
    t.ok(readFileSync(join(dir, 'down.bin')).equals(content), 'cp from the pod: same bytes');
  });

  t.test(`${mode}: agent killed during logs -f and exec; after it returns the next command works`, async (t) => {
    const node = tb.nodes[0]!;
    const killAgent = (): void => void tb.lab.agents.get(node.name)!.child.kill('SIGKILL');
    const restart = async (): Promise<void> => {
      await tb.lab.agents.get(node.name)!.exited;
      tb.lab.startAgent(node);
      await tb.lab.waitForTunnels([node.name]);
    };

    const logs = streaming(k.spawn(['logs', '-f', 'demo', '-c', 'app', '--tail=1']));
    await waitFor('logs -f output', () => logs.out().length > 0 && kubelet.activeFollowers() === 1);
    let killed = Date.now();
    killAgent();
    const logsExit = await exitWithin(logs, 5000);
    t.ok(logsExit, 'kubectl logs -f exited (no hang)');
    t.not(logsExit?.code, 0, `logs -f exit code ${logsExit?.code} after ${logsExit ? logsExit.at - killed : '-'} ms: ${logs.err().trim()}`);
    await tb.lab.agents.get(node.name)!.exited;
    const down = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
    t.not(down.code, 0, 'logs while the agent is away fails');
    t.match(down.stderr, /error dialing backend: CONNECT 127\.0\.147\.1:10250 via \S+: 50\d/, `the dial error reaches kubectl: ${down.stderr.trim()}`);
    await restart();
    const after = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
    t.equal(after.code, 0, `logs after the agent returned: ${after.stderr}`);

    const exec = streaming(k.spawn(['exec', 'demo', '-c', 'app', '--', 'sh', '-c', 'echo started; sleep 30']));
    await waitFor('exec output', () => exec.out().includes('started'));
    killed = Date.now();
    killAgent();
    const execExit = await exitWithin(exec, 5000);
    t.ok(execExit, 'kubectl exec exited (no hang)');
    t.not(execExit?.code, 0, `exec exit code ${execExit?.code} after ${execExit ? execExit.at - killed : '-'} ms: ${exec.err().trim()}`);
    await restart();
    const again = await k.run(['exec', 'demo', '-c', 'app', '--', 'echo', 'back']);
    t.equal(again.code, 0, again.stderr);
    t.equal(again.stdout.toString(), 'back\n', 'exec after the agent returned');
  });
});

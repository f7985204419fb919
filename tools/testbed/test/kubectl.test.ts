// The real kubectl 1.32 against the fake API server, whose kubelet proxy reaches the emulated kubelets
// only through the edge-tunnel server and the agents' tunnels. As root (netns/DNAT): namespaces, the
// API server a process in the cloud namespace dialling edgeIP:10250, which iptables DNATs to the
// server. Otherwise (loopback/CONNECT): loopback addresses, the API server in-process dialling through
// the CONNECT frontend. One scenario list: get, logs (-f, --tail, --since), exec (exit codes, -i with
// 10 MiB, -it), attach, port-forward, cp both ways, agent deaths in the middle of logs -f and exec,
// proof of the path the requests took, and (netns) the commands `npm start` prints.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { kubectlMissing } from '../src/kubectl/kubectl.js';
import { freePort, KUBECTL_MODES } from '../src/kubectl/testbed.js';
import { podHttpAnswer } from '../src/kubectl/pod-http.js';
import { exitWithin, streaming, waitFor } from './fixtures/kubectl-helpers.js';
import { auditRecords, runPrinted } from './fixtures/kubectl-path.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';
import { kubectlCommands, netnsCurlCommands, startBanner } from '../src/kubectl/start-commands.js';

const skip = kubectlMissing() ?? false;

t.test('kubectl end to end', { skip }, async (t) => {
  const { tb } = await withKubectlTestbed(t, 147);
  const k = tb.kubectl;
  const mode = tb.mode;
  const [a, b] = tb.nodes as [(typeof tb.nodes)[0], (typeof tb.nodes)[0]];

  t.test(`${mode}: get pods, get nodes`, async (t) => {
    const pods = await k.run(['get', 'pods']);
    t.equal(pods.code, 0, pods.stderr);
    t.match(pods.stdout.toString(), /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\ndemo\s+2\/2\s+Running\s+0\s/);
    const nodes = await k.run(['get', 'nodes']);
    t.equal(nodes.code, 0, nodes.stderr);
    t.match(
      nodes.stdout.toString(),
      new RegExp(`^NAME\\s+STATUS\\s+ROLES\\s+AGE\\s+VERSION\\n${a.name}\\s+Ready\\s+edge\\s+\\S+\\s+v1\\.32\\.0\\n${b.name}\\s+Ready\\s+edge\\s`),
    );
    const ips = await k.run(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.addresses[0].address} {end}']);
    t.equal(ips.stdout.toString(), `${a.name}=${a.ip} ${b.name}=${b.ip} `, 'InternalIPs are the edge node IPs');
  });

  t.test(`${mode}: logs, --tail, --since, a missing container`, async (t) => {
    await tb.appendLog(a.name, 'app', 'marker one');
    await tb.appendLog(a.name, 'app', 'marker two');
    // The emulator adds a generated line every second, so assertions allow lines after the markers.
    const all = await k.run(['logs', 'demo', '-c', 'app']);
    t.equal(all.code, 0, all.stderr);
    t.match(
      all.stdout.toString(),
      new RegExp(`^\\S+ ${a.name}/demo/app line 1\\n(?:[^]*\\n)?marker one\\nmarker two\\n`),
      `the whole log, from the kubelet on ${a.name}`,
    );
    const tail = await k.run(['logs', 'demo', '-c', 'app', '--tail=2']);
    const tailLines = tail.stdout
      .toString()
      .split('\n')
      .filter((l) => l !== '');
    t.equal(tailLines.length, 2, '--tail=2: two lines');
    const later = await k.run(['logs', 'demo', '-c', 'app']);
    t.ok(later.stdout.toString().includes(`\n${tailLines.join('\n')}\n`), '--tail=2: consecutive lines of the log');
    t.match(
      tb
        .requests()
        .filter((r) => r.path.endsWith('/log'))
        .at(-2)?.query,
      { container: 'app', tailLines: '2' },
    );
    const since = await k.run(['logs', 'demo', '-c', 'app', '--since=1h']);
    t.match(since.stdout.toString(), new RegExp(`^\\S+ ${a.name}/demo/app line 1\\n[^]*\\nmarker two\\n`), '--since=1h keeps every line');
    t.match(
      tb
        .requests()
        .filter((r) => r.path.endsWith('/log'))
        .at(-1)?.query,
      { container: 'app', sinceSeconds: '3600' },
    );
    // line 1 must be older than the 2 s asked for (a quick machine gets here ~1 s after it was written)
    const line1Age = Date.now() - Date.parse(all.stdout.toString().split(' ')[0]!);
    if (line1Age < 3_000) await new Promise((r) => setTimeout(r, 3_000 - line1Age));
    const recent = await k.run(['logs', 'demo', '-c', 'app', '--since=2s', '--timestamps']);
    t.notMatch(recent.stdout.toString(), / line 1\n/, '--since=2s drops the first line, written seconds ago');
    const sidecar = await k.run(['logs', 'demo', '-c', 'sidecar', '--tail=1']);
    t.match(sidecar.stdout.toString(), new RegExp(`${a.name}/demo/sidecar line \\d+\\n$`), '-c sidecar');
    const missing = await k.run(['logs', 'demo', '-c', 'nope']);
    t.equal(missing.code, 1);
    t.match(missing.stderr, 'container nope is not valid for pod demo');
    const noPod = await k.run(['logs', 'ghost']);
    t.match(noPod.stderr, 'pods "ghost" not found');
  });

  t.test(`${mode}: the requests took the tunnel's ${mode === KUBECTL_MODES.netns ? 'DNAT path (HTTPS listener)' : 'CONNECT frontend'}`, async (t) => {
    const before = auditRecords(tb.logs()).length;
    const ok = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
    t.equal(ok.code, 0, ok.stderr);
    await waitFor('the audit line', () => auditRecords(tb.logs()).length > before, 5000);
    const audit = auditRecords(tb.logs()).slice(before);
    if (mode === KUBECTL_MODES.netns) {
      t.match(
        audit.at(-1),
        { listener: 'https', caller: 'kube-apiserver-kubelet-client', nodeName: a.name, port: '10250', path: '/containerLogs/default/demo/app', status: '200' },
        `the server's HTTPS listener (10263) got it by DNAT of ${a.ip}:10250, from the API server's kubelet-client certificate`,
      );
      // Take the capture away for this one address: nat OUTPUT returns before reaching any capture chain.
      const rule = ['-d', a.ip, '-p', 'tcp', '--dport', '10250', '-m', 'comment', '--comment', 'kubectl test: no capture', '-j', 'RETURN'];
      const added = await tb.cloudExec('iptables', ['-w', '-t', 'nat', '-I', 'OUTPUT', '1', ...rule]);
      t.equal(added.code, 0, added.stderr);
      const bypass = await k
        .run(['logs', 'demo', '-c', 'app', '--tail=1'])
        .finally(() => tb.cloudExec('iptables', ['-w', '-t', 'nat', '-D', 'OUTPUT', ...rule]));
      t.equal(bypass.code, 1, 'without the DNAT rule the same kubectl command fails');
      t.match(bypass.stderr, new RegExp(`error dialing backend: .*${a.ip.replaceAll('.', '\\.')}:10250`), `and says why: ${bypass.stderr.trim()}`);
      const back = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
      t.equal(back.code, 0, `with the rule back it works again: ${back.stderr}`);
    } else {
      t.match(audit.at(-1), { listener: 'connect', nodeName: a.name, port: '10250', status: '200' }, `the server's CONNECT frontend carried ${a.ip}:10250`);
    }
  });

  t.test(`${mode}: logs -f streams, and SIGINT to kubectl closes the kubelet follower within 1 s`, async (t) => {
    const s = streaming(k.spawn(['logs', '-f', 'demo', '-c', 'app', '--tail=1']));
    await waitFor('the follower on the kubelet', async () => s.out().length > 0 && (await tb.activeFollowers(a.name)) === 1);
    await tb.appendLog(a.name, 'app', 'followed line');
    await waitFor('the appended line at kubectl', () => s.out().includes('followed line\n'), 5000);
    const sent = Date.now();
    s.child.kill('SIGINT');
    await waitFor('the kubelet follower to go away', async () => (await tb.activeFollowers(a.name)) === 0, 1000);
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
    t.equal(ok.stdout.toString(), `demo ${a.name}\n`, `ran on ${a.name}`);
  });

  t.test(`${mode}: exec -i carries 10 MiB of stdin intact`, async (t) => {
    const input = randomBytes(10 * 1024 * 1024);
    const r = await k.run(['exec', '-i', 'demo', '-c', 'app', '--', 'sha256sum'], { input, timeoutMs: 40_000 });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString().split(' ')[0], createHash('sha256').update(input).digest('hex'), `SHA-256 equal (${r.durationMs} ms)`);
  });

  t.test(`${mode}: exec -it runs with a TTY (kubectl under script(1))`, async (t) => {
    const child = k.spawnWithTty(['exec', '-it', 'demo', '-c', 'app', '--', 'sh', '-c', 'read x; echo "got:$x TERM=$TERM"; echo "to stderr" >&2']);
    const s = streaming(child);
    // kubectl puts the terminal in raw mode and forwards bytes as typed; the emulator's process has
    // pipes rather than a pty, so it is the newline that ends its `read`. Typed until the read sees it.
    let typedAt = 0;
    await waitFor(
      'the line to reach the process',
      () => {
        if (s.out().includes('got:')) return true;
        if (Date.now() - typedAt > 1000) {
          child.stdin!.write('typed\n');
          typedAt = Date.now();
        }
        return false;
      },
      15_000,
    ).catch((err: Error) => t.fail(err.message));
    const exit = await exitWithin(s, 10_000);
    t.equal(exit?.code, 0, s.err());
    t.match(s.out(), /got:typed TERM=xterm\r?\n/, 'the line typed on the terminal reached the process, which has TERM (the kubelet set tty=true)');
    t.match(s.out(), /to stderr/, 'stderr shares the terminal');
  });

  t.test(`${mode}: attach -i to the container's process`, async (t) => {
    const s = streaming(k.spawn(['attach', 'demo', '-c', 'app', '-i']));
    // The attached process is `cat`: what goes in comes back out.
    await waitFor('the attach prompt', () => s.err().includes("If you don't see a command prompt"));
    await waitFor(
      'the echo',
      () => {
        s.child.stdin!.write('ping\n');
        return s.out().includes('ping\n');
      },
      10_000,
    ).catch((err: Error) => t.fail(err.message));
    t.match(s.out(), /ping\n/, 'input echoed back through the attached process');
    s.child.kill('SIGINT');
    t.ok(await exitWithin(s, 5000), 'kubectl attach ended on SIGINT');
  });

  t.test(`${mode}: port-forward carries an HTTP request`, async (t) => {
    const pod = await tb.podHttpServer(a.name);
    t.teardown(() => pod.close());
    const localPort = await freePort();
    const s = streaming(k.spawn(['port-forward', 'pod/demo', `${localPort}:${pod.port}`]));
    t.teardown(() => void s.child.kill('SIGKILL'));
    await waitFor('port-forward to listen', () => s.out().includes('Forwarding from 127.0.0.1'), 10_000);
    for (const path of ['/one', '/two']) {
      const res = await tb.cloudExec('curl', ['-s', '-m', '10', `http://127.0.0.1:${localPort}${path}`]);
      t.equal(res.stdout, podHttpAnswer('GET', path), `GET ${path} through port-forward`);
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

  t.test(
    `${mode}: the commands npm start prints work as printed`,
    { skip: mode !== KUBECTL_MODES.netns && 'loopback: tools/lab/test/lab.test.ts runs the printed lab commands' },
    async (t) => {
      const expectations: Array<[RegExp, { code?: number; out?: RegExp; err?: RegExp }]> = [
        [/10255\/healthz$/, { out: /^ok/ }],
        [/10250\/stats\/summary$/, { out: new RegExp(`"nodeName":"${b.name}"`) }],
        [new RegExp(`:${tb.exporterPort}/metrics$`), { out: /^node_load1 /m }],
        [/9999\/$/, { code: 0, out: /403 Forbidden[^]*PORT_NOT_CONFIGURED/ }],
        [/debug\/tunnels$/, { out: new RegExp(`"${a.name}"[^]*"${b.name}"`) }],
        [/get nodes,pods$/, { out: new RegExp(`node/${a.name}\\s+Ready[^]*pod/demo\\s+2/2\\s+Running`) }],
        [/ exec demo /, { out: new RegExp(`node=${a.name}\\n$`) }],
        [/ cp \.\/README\.md /, { code: 0 }],
        [/ logs -f /, { code: 124, out: new RegExp(`${a.name}/demo/app line \\d+\\n`) }],
      ];
      const banner = startBanner(tb);
      const printed = [...netnsCurlCommands(tb), ...kubectlCommands(tb)].filter((c) => !c.interactive || / logs -f /.test(c.command));
      for (const { title, command, interactive } of printed) {
        t.ok(banner.includes(`\n  ${command}\n`), `printed: ${command}`);
        const expected = expectations.find(([re]) => re.test(command))?.[1];
        if (!t.ok(expected, `an expectation exists for: ${command}`)) continue;
        const res = await runPrinted(interactive ? `timeout 3 ${command}` : command);
        t.match(res, { code: expected!.code ?? 0, stdout: expected!.out ?? /[^]*/, stderr: expected!.err ?? /[^]*/ }, `${title}: ${command}`);
      }
    },
  );

  // A killed agent looks like a lost connection: the server pauses its session for a resume
  // (--resume-grace-ms) and answers new requests 503 TUNNEL_PAUSED; the restarted agent's new
  // session ends the paused one, and with it the streams that waited (tools/lab/test/resume.test.ts
  // has the resume itself).
  t.test(`${mode}: agent killed during logs -f and exec; its return ends them; then the next command works`, async (t) => {
    const logs = streaming(k.spawn(['logs', '-f', 'demo', '-c', 'app', '--tail=1']));
    await waitFor('logs -f output', async () => logs.out().length > 0 && (await tb.activeFollowers(a.name)) === 1);
    await tb.killAgent(a.name);
    const down = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
    t.not(down.code, 0, 'logs while the agent is away fails');
    const reason =
      mode === KUBECTL_MODES.netns
        ? new RegExp(`TUNNEL_PAUSED: edge node ${a.name}: its agent connection was lost`) // the server's answer on its HTTPS listener, passed on
        : new RegExp(`error dialing backend: CONNECT ${a.ip.replaceAll('.', '\\.')}:10250 via \\S+: 50\\d`);
    t.match(down.stderr, reason, `the reason reaches kubectl: ${down.stderr.trim()}`);
    let killed = Date.now();
    await tb.startAgent(a.name);
    const logsExit = await exitWithin(logs, 5000);
    t.ok(logsExit, 'kubectl logs -f exited once the agent was back (no hang)');
    t.not(logsExit?.code, 0, `logs -f exit code ${logsExit?.code} ${logsExit ? logsExit.at - killed : '-'} ms after the restart: ${logs.err().trim()}`);
    const after = await k.run(['logs', 'demo', '-c', 'app', '--tail=1']);
    t.equal(after.code, 0, `logs after the agent returned: ${after.stderr}`);

    const exec = streaming(k.spawn(['exec', 'demo', '-c', 'app', '--', 'sh', '-c', 'echo started; sleep 30']));
    await waitFor('exec output', () => exec.out().includes('started'));
    await tb.killAgent(a.name);
    killed = Date.now();
    await tb.startAgent(a.name);
    const execExit = await exitWithin(exec, 5000);
    t.ok(execExit, 'kubectl exec exited once the agent was back (no hang)');
    t.not(execExit?.code, 0, `exec exit code ${execExit?.code} ${execExit ? execExit.at - killed : '-'} ms after the restart: ${exec.err().trim()}`);
    const again = await k.run(['exec', 'demo', '-c', 'app', '--', 'echo', 'back']);
    t.equal(again.code, 0, again.stderr);
    t.equal(again.stdout.toString(), 'back\n', 'exec after the agent returned');
  });
});

// `kubectl exec -it` with the real kubectl on a terminal of a known size (script(1) gives it one):
// the remote command runs on a pseudo-terminal that has the local terminal's size, and a local
// resize reaches it as SIGWINCH, through the fake API server, the edge-tunnel server and the agent.
import { join } from 'node:path';
import t from 'tap';
import { kubectlMissing, shellQuote } from '../src/kubectl/kubectl.js';
import { withKubectlTestbed } from './fixtures/kubectl-testbed.js';

const skip = kubectlMissing() ?? false;

t.test('kubectl exec -it: the remote terminal has the local size and follows a resize', { skip }, async (t) => {
  const { tb } = await withKubectlTestbed(t, 148);
  // The emulated container shares this machine's files: it says when its WINCH trap is set.
  const ready = join(tb.dir, 'trap-set');
  // stty applies `cols` and `rows` with one ioctl each, so two SIGWINCH (and two resize messages) may
  // arrive: the trap reports each size and ends once the second one is in
  const remote = `stty size; trap 's=$(stty size); echo "$s"; [ "$s" = "20 90" ] && exit 0' WINCH; touch ${shellQuote(ready)}; while :; do sleep 30 & wait; done`;
  const kubectl = tb.kubectl.commandLine(['exec', '-it', 'demo', '-c', 'app', '--', 'sh', '-c', remote]);
  // Inside script's terminal, where kubectl runs: size it, start kubectl on it, resize once the trap
  // is set, end with kubectl's exit code. script(1) runs $SHELL; a POSIX shell (dash) gives an async
  // list /dev/null as stdin before its redirections, so `0<&0` would keep /dev/null: the terminal
  // goes through fd 3 instead, which works in every shell.
  const local = [
    'stty cols 120 rows 40',
    'exec 3<&0',
    `${kubectl} 0<&3 3<&- &`,
    `until [ -e ${shellQuote(ready)} ]; do sleep 0.05; done`,
    'stty cols 90 rows 20',
    'wait $!',
  ].join('\n');
  const r = await tb.cloudExec('script', ['-qec', local, '/dev/null'], 30_000);
  t.equal(r.code, 0, 'kubectl exited 0', { stdout: r.stdout, stderr: r.stderr });
  t.match(r.stdout, /40 120\r\n/, 'stty size inside saw the local 120x40 from the start');
  t.match(r.stdout, /40 120\r\n[^]*20 90\r\n/, 'the WINCH trap saw the local resize to 90x20');
});

// A saturating neighbour in its own process: reads an endless source stream through a chain's
// endpoint until killed. `node loader.mjs '<endpoint JSON>'` → IPC {ready} once data flows.
import { connectTo } from './client.mjs';
import { header, MODE } from './sink.mjs';

const socket = await connectTo(JSON.parse(process.argv[2]));
socket.on('error', () => process.exit(0));
socket.once('data', () => process.send({ ready: true }));
socket.on('data', () => {});
socket.resume();
socket.write(header(MODE.source, 0));
process.on('SIGTERM', () => process.exit(0));

export { startLab, type LabHandle } from './lab.js';
export { DEFAULT_NODES, DEFAULT_PORTS, type LabNode, type LabOptions, type LabPorts } from './options.js';
export { labCommands, type LabCommand } from './commands.js';
export { formatLine } from './processes.js';
export { freePort } from './free-port.js';

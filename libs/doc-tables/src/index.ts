export { firstColumnCodes, tableAfter, tableCells, tableCodes } from './tables.js';

// A README's tables, read the way its tests need them: the rows of the table after a heading, each
// row's cells, and the backticked codes of a first column. Pure: the caller reads the file.

/** Cells of a table row, trimmed; `\|` inside a cell is not a separator and reads as `|`. */
export function tableCells(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/\|\s*$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replaceAll('\\|', '|'));
}

/**
 * The rows (header and separator left out) of the first table after the first line that is exactly
 * `heading` (a heading, or the table's own header row); each row's cells, backticks kept. Throws when
 * there is no such line or no table after it.
 */
export function tableAfter(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const at = lines.findIndex((l) => l.trim() === heading);
  if (at < 0) throw new Error(`the document has no line "${heading}"`);
  const start = lines[at]!.startsWith('|') ? at : lines.findIndex((l, i) => i > at && l.startsWith('|'));
  if (start < 0) throw new Error(`no table after "${heading}"`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(tableCells(l));
  }
  return rows;
}

/** Each row's first cell as the code it backticks; a cell that is not one `code` reads `(not a code: …)`. */
export function firstColumnCodes(rows: string[][]): string[] {
  return rows.map((r) => /^`([^`]+)`$/.exec(r[0] ?? '')?.[1] ?? `(not a code: ${r[0] ?? ''})`);
}

/** The codes of the first column of the first table after `heading`. */
export function tableCodes(markdown: string, heading: string): string[] {
  return firstColumnCodes(tableAfter(markdown, heading));
}

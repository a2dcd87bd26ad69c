/** A plain text table: columns padded to their widest cell, two spaces apart. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** A metric value as the server sends it (a number or "nan"/"inf"/"-inf"), short. */
export function formatValue(value: unknown): string {
  if (typeof value !== 'number') return value === undefined || value === null ? '' : String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6
    ? value.toPrecision(4).replace(/\.?0+$/, '')
    : value.toExponential(3);
}

export function formatTime(epochMs: unknown): string {
  return typeof epochMs === 'number'
    ? new Date(epochMs).toISOString().replace('T', ' ').slice(0, 19)
    : '';
}

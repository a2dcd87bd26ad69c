/**
 * What a terminal shows after some output, as lines: a move to column 1 (CSI 1G) or a carriage
 * return goes back to the start of the line, clear-right (CSI 0K) erases the rest of it, other
 * text overwrites what is under it. Enough to tell a line glued to a bar from one of its own.
 */
export function terminalScreen(output: string): string[] {
  const lines: string[] = [''];
  let column = 0;
  const tokens = output.split(/(\u001b\[1G|\u001b\[0K|\u001b\[[0-9;?]*[A-Za-z]|\r|\n)/);
  for (const token of tokens) {
    const row = lines.length - 1;
    if (token === '\u001b[1G' || token === '\r') column = 0;
    else if (token === '\u001b[0K') lines[row] = lines[row]!.slice(0, column);
    else if (token === '\n') {
      lines.push('');
      column = 0;
    } else if (token.startsWith('\u001b')) {
      // Colours and other codes change nothing the test looks at.
    } else if (token !== '') {
      const line = lines[row]!;
      lines[row] = line.slice(0, column).padEnd(column) + token + line.slice(column + token.length);
      column += token.length;
    }
  }
  return lines;
}

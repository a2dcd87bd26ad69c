/** Run colours: ten that stay apart on a light and a dark background (Tableau 10). */
const COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export function runColor(index: number): string {
  return COLORS[index % COLORS.length]!;
}

/** `#rrggbb` at `alpha`, for the faint raw line and the min/max band. */
export function withAlpha(color: string, alpha: number): string {
  const value = Number.parseInt(color.slice(1), 16);
  return `rgba(${(value >> 16) & 255},${(value >> 8) & 255},${value & 255},${alpha})`;
}

/** A CSS variable of the current theme (axes and grid follow light or dark). */
export function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value === '' ? fallback : value;
}

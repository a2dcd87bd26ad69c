/**
 * A chart as SVG (the PNG export is uPlot's canvas): per run the min/max band as a polygon, the
 * raw line and, when smoothing is on, the smoothed line, over the x range shown (a zoom is kept)
 * with the y range of what is in it; the axes' ends labelled.
 */
import { formatValue } from './dom.js';
import { withAlpha } from './palette.js';

const WIDTH = 800;
const HEIGHT = 320;
const MARGIN = { top: 28, right: 16, bottom: 28, left: 64 };

export interface SvgSeries {
  name: string;
  color: string;
  x: ArrayLike<number>;
  raw: ArrayLike<number | null>;
  smoothed?: ArrayLike<number | null>;
  min: ArrayLike<number | null>;
  max: ArrayLike<number | null>;
}

const escapeText = (text: string) =>
  text.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);

export function chartSvg(
  title: string,
  series: SvgSeries[],
  range: { from: number; to: number },
  logY: boolean,
): string {
  const inRange = (x: number) => x >= range.from && x <= range.to;
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const item of series) {
    for (let index = 0; index < item.x.length; index++) {
      if (!inRange(item.x[index]!)) continue;
      for (const value of [item.min[index], item.max[index], item.raw[index]]) {
        if (value === null || value === undefined || (logY && value <= 0)) continue;
        low = Math.min(low, value);
        high = Math.max(high, value);
      }
    }
  }
  if (!Number.isFinite(low)) [low, high] = [0, 1];
  if (low === high) [low, high] = [low - 1, high + 1];
  const transform = (value: number) => (logY ? Math.log10(value) : value);
  const [yLow, yHigh] = [transform(low), transform(high)];
  const span = range.to - range.from || 1;
  const px = (x: number) =>
    MARGIN.left + ((x - range.from) / span) * (WIDTH - MARGIN.left - MARGIN.right);
  const py = (y: number) =>
    MARGIN.top +
    (1 - (transform(y) - yLow) / (yHigh - yLow)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const path = (xs: ArrayLike<number>, ys: ArrayLike<number | null>) => {
    const points: string[] = [];
    for (let index = 0; index < xs.length; index++) {
      const value = ys[index];
      if (!inRange(xs[index]!) || value === null || value === undefined || (logY && value <= 0))
        continue;
      points.push(`${px(xs[index]!).toFixed(1)},${py(value).toFixed(1)}`);
    }
    return points.join(' ');
  };
  const shapes = series.map((item) => {
    const upper = path(item.x, item.max);
    const lower = path(item.x, item.min).split(' ').reverse().join(' ');
    const band =
      upper && lower
        ? `<polygon class="band" points="${upper} ${lower}" fill="${withAlpha(item.color, 0.12)}"/>`
        : '';
    const raw = `<polyline class="raw" points="${path(item.x, item.raw)}" fill="none" stroke="${item.smoothed ? withAlpha(item.color, 0.3) : item.color}" stroke-width="1.5"><title>${escapeText(item.name)}</title></polyline>`;
    const smoothed = item.smoothed
      ? `<polyline class="smoothed" points="${path(item.x, item.smoothed)}" fill="none" stroke="${item.color}" stroke-width="2"/>`
      : '';
    return band + raw + smoothed;
  });
  const text = (x: number, y: number, content: string, anchor = 'start') =>
    `<text x="${x}" y="${y}" text-anchor="${anchor}" font-size="12" font-family="sans-serif" fill="#555">${escapeText(content)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}"><rect width="100%" height="100%" fill="#fff"/>${text(MARGIN.left, 18, title)}<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" fill="none" stroke="#ccc"/>${shapes.join('')}${text(MARGIN.left - 6, MARGIN.top + 10, formatValue(high), 'end')}${text(MARGIN.left - 6, HEIGHT - MARGIN.bottom, formatValue(low), 'end')}${text(MARGIN.left, HEIGHT - 8, formatValue(range.from))}${text(WIDTH - MARGIN.right, HEIGHT - 8, formatValue(range.to), 'end')}</svg>\n`;
}

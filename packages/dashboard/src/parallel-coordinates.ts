/**
 * Parallel coordinates of the compared runs: one vertical axis per param that differs between
 * them (numbers on a linear scale, other values as evenly spaced categories) and a last axis for
 * the chosen metric's latest value; one line per run, in its chart colour. SVG, so it scales and
 * exports as it is.
 */
import { formatValue } from './dom.js';

const WIDTH = 960;
const HEIGHT = 300;
const MARGIN = { top: 36, right: 60, bottom: 28, left: 60 };
const SVG = 'http://www.w3.org/2000/svg';

export interface ParallelRun {
  name: string;
  color: string;
  /** One value per axis, in the order of `axes`. */
  values: unknown[];
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A value's place on its axis, from 0 (bottom) to 1 (top); undefined when it has none. */
function scaleFor(values: unknown[]): {
  place(value: unknown): number | undefined;
  ticks: string[];
} {
  const numbers = values.filter(
    (value): value is number => typeof value === 'number' && Number.isFinite(value),
  );
  if (
    numbers.length === values.filter((value) => value !== null && value !== undefined).length &&
    numbers.length > 0
  ) {
    const min = Math.min(...numbers);
    const max = Math.max(...numbers);
    const span = max - min || 1;
    return {
      place: (value) =>
        typeof value === 'number' && Number.isFinite(value) ? (value - min) / span : undefined,
      ticks: [formatValue(min), formatValue(max)],
    };
  }
  const categories = [
    ...new Set(
      values
        .filter((value) => value !== null && value !== undefined)
        .map((value) => JSON.stringify(value)),
    ),
  ].sort();
  return {
    place: (value) => {
      if (value === null || value === undefined) return undefined;
      const index = categories.indexOf(JSON.stringify(value));
      return categories.length === 1 ? 0.5 : index / (categories.length - 1);
    },
    ticks: [categories[0] ?? '', categories[categories.length - 1] ?? ''].map((text) =>
      text.replace(/^"|"$/g, ''),
    ),
  };
}

export function parallelCoordinates(axes: string[], runs: ParallelRun[]): SVGSVGElement {
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: '100%',
    class: 'parallel',
    role: 'img',
    'aria-label': `Parallel coordinates of ${axes.join(', ')}`,
  });
  const inner = WIDTH - MARGIN.left - MARGIN.right;
  const x = (index: number) =>
    MARGIN.left + (axes.length === 1 ? inner / 2 : (index * inner) / (axes.length - 1));
  const y = (place: number) => MARGIN.top + (1 - place) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const scales = axes.map((_, index) => scaleFor(runs.map((run) => run.values[index])));
  axes.forEach((axis, index) => {
    root.append(
      svg('line', { x1: x(index), x2: x(index), y1: y(0), y2: y(1), class: 'axis' }),
      svg(
        'text',
        { x: x(index), y: MARGIN.top - 18, 'text-anchor': 'middle', class: 'axis-label' },
        axis,
      ),
      svg('text', { x: x(index) + 4, y: y(1) + 4, class: 'tick' }, scales[index]!.ticks[1]!),
      svg('text', { x: x(index) + 4, y: y(0) + 4, class: 'tick' }, scales[index]!.ticks[0]!),
    );
  });
  for (const run of runs) {
    const points = axes.flatMap((_, index) => {
      const place = scales[index]!.place(run.values[index]);
      return place === undefined ? [] : [`${x(index).toFixed(1)},${y(place).toFixed(1)}`];
    });
    const line = svg('polyline', {
      points: points.join(' '),
      fill: 'none',
      stroke: run.color,
      'stroke-width': 2,
      'data-run': run.name,
    });
    line.append(svg('title', {}, run.name));
    root.append(line);
  }
  return root;
}

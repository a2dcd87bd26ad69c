import { randomInt } from 'node:crypto';

// Short, friendly words, as DVCLive names its experiments (adjective-noun).
const ADJECTIVES = [
  'agile',
  'bold',
  'brisk',
  'calm',
  'clever',
  'crisp',
  'eager',
  'fleet',
  'gentle',
  'keen',
  'lively',
  'lucid',
  'merry',
  'nimble',
  'plucky',
  'quick',
  'quiet',
  'rapid',
  'sharp',
  'steady',
  'sunny',
  'swift',
  'tidy',
  'vivid',
  'witty',
  'zesty',
];
const NOUNS = [
  'acorn',
  'badger',
  'beacon',
  'cedar',
  'comet',
  'falcon',
  'fern',
  'harbor',
  'heron',
  'lark',
  'maple',
  'meadow',
  'otter',
  'pebble',
  'pine',
  'quartz',
  'raven',
  'river',
  'robin',
  'sparrow',
  'spruce',
  'summit',
  'thistle',
  'tide',
  'willow',
  'wren',
];

/** A readable run name such as `brisk-otter`. */
export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}`;
}

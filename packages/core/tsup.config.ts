import { tsupConfig } from '../../tsup.base.js';

export default tsupConfig({
  // The main entry (users), the protocol alone (servers, browsers: no node: imports) and the kit
  // for sink and adapter authors. Shared code goes to chunks, so the entries share one copy of
  // each module (one exit-hook registry, one Run class), in both module formats.
  entry: {
    index: 'src/index.ts',
    protocol: 'src/protocol/index.ts',
    'sink-kit': 'src/sink-kit.ts',
  },
  splitting: true,
  // import.meta.url (used to find optional packages) also works in the CommonJS build.
  shims: true,
});

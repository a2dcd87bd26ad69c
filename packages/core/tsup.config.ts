import { tsupConfig } from '../../tsup.base.js';

export default tsupConfig({
  // import.meta.url (used to find optional packages) also works in the CommonJS build.
  shims: true,
});

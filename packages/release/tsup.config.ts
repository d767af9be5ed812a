import { library } from '../../tsup.base.js';

// Two entries: the whole composition, and `@rel/release/config` (the configuration alone: no Docker, database
// or HTTP client behind it, for tools that only read rel.config.yaml and for the CLI's start-up). No @rel/*
// package is bundled in: each is a dependency, so one copy of @rel/core serves them all.
export default library({ entry: ['src/index.ts', 'src/config.ts'], splitting: true });

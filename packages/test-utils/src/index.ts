// @rel/test-utils: test support shared by rel's tests and benchmarks (private: never published, not in any tarball).

export * from './bench.js';
export * from './bench-database.js';
export * from './caught.js';
export * from './cli.js';
export * from './docker.js';
export * from './engine.js';
export * from './http.js';
export * from './nginx.js';
export * from './png.js';
export * from './ports.js';
export * from './postgres.js';
export * from './sandbox.js';

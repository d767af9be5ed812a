#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with llhttp compiled to WebAssembly; V8's optimizing tier compiles it a second time
// in the background, which doubles a short command's peak memory (about 100 MB instead of 60 MB). The
// baseline tier is plenty for the few requests rel makes. Set before any module compiles WebAssembly.
setFlagsFromString('--liftoff-only');
const { main } = await import('../dist/cli.js');

// Exit as soon as the command is done: idle keep-alive sockets and timers must not hold a finished release.
// stdout and stderr are synchronous for files and pipes on POSIX, so nothing written is lost.
process.exit(await main(process.argv.slice(2)));

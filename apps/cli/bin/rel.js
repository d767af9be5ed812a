#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { loadCli } from './load-cli.js';

const args = process.argv.slice(2);
// --help and --version need none of these flags. Without them Node keeps using the code cache of its built-in
// modules (V8 rejects it once any V8 flag differs from its default: ~30 ms of CPU at every start). The flags
// are set first all the same for the other commands: set once the command's code is loaded, they save those
// 30 ms but the memory reducer is armed by then and the run's steady state costs more (measured: 7.5 instead of
// 5.8 ms of CPU a second for `rel monitor`).
const flagged = !args.includes('--help') && !args.includes('--version') && args.length > 0;
if (flagged) {
  // undici parses HTTP with llhttp compiled to WebAssembly; V8's optimizing tier compiles it a second time
  // in the background, which doubles a short command's peak memory (about 100 MB instead of 60 MB). The
  // baseline tier is plenty for the few requests rel makes. Set before any module compiles WebAssembly.
  setFlagsFromString('--liftoff-only');
  // V8's memory reducer shrinks a small heap once its allocation rate drops after start-up: two full
  // collections that free a few MB, 8 s in, and a young generation kept small afterwards (more scavenges for
  // the rest of the run). A long command (rel monitor, a deploy waiting for health) is idle most of the time
  // and pays for nothing; its peak memory is reached before. Set first: the memory reducer is armed as soon as
  // the heap has grown by 1 MB.
  setFlagsFromString('--no-memory-reducer-for-small-heaps');
}
// The command, through V8's code cache (load-cli.js says why).
const { main } = loadCli(args, { v8Flags: flagged });

// Exit as soon as the command is done: idle keep-alive sockets and timers must not hold a finished release.
// stdout and stderr are synchronous for files and pipes on POSIX, so nothing written is lost.
process.exit(await main(args));

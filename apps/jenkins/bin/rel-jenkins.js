#!/usr/bin/env node
import { main } from '../dist/index.js';

// Exit as soon as the command is done: idle keep-alive sockets and timers must not hold a finished stage.
// stdout and stderr are synchronous for files and pipes on POSIX, so nothing written is lost.
process.exit(await main(process.argv.slice(2)));

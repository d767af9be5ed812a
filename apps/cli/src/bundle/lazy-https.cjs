// node:https for docker-modem (see tsup.config.ts), loaded on first use. docker-modem requires it when it loads,
// for engines behind TLS; rel reaches the engine over its Unix socket or plain TCP, and node:https brings
// node:tls and node:crypto with it: about 15 ms of CPU at every start for nothing. docker-modem only takes it as
// a prototype and calls its `request` through it, which loads the real module.
'use strict';

let https;
const load = () => {
  https ??= require('node:https');
  return https;
};

module.exports = new Proxy(
  {},
  {
    get: (_target, key) => load()[key],
    has: (_target, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Object.getOwnPropertyDescriptor(load(), key);
      if (descriptor) descriptor.configurable = true;
      return descriptor;
    },
  },
);

// The part of undici the rel CLI uses, bundled in place of undici's index (see tsup.config.ts). The index also
// loads fetch, WebSocket, EventSource, the cache, mock and proxy agents and, through them, Node's own copy of
// undici: about 60 ms of CPU at every start for code rel never runs. These are the same classes and the same
// request function (the index's makeDispatcher, below); only less is loaded. Naming an export this module
// does not have fails the build.

import errors from 'undici/lib/core/errors.js';
import util from 'undici/lib/core/util.js';
import Agent from 'undici/lib/dispatcher/agent.js';
import Client from 'undici/lib/dispatcher/client.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import globalDispatcher from 'undici/lib/global.js';

// As undici's index does: dispatcher.request(), .stream(), ... on every dispatcher. The API (and the fetch
// body helpers it loads, with node:crypto) loads on the first call: `rel monitor` only dispatches, and runs
// request() only to notify after a rollback; loading it at start cost about 10 ms of CPU.
let apiModule;
const api = () => {
  apiModule ??= require('undici/lib/api/index.js');
  return apiModule;
};
for (const name of ['request', 'stream', 'pipeline', 'upgrade', 'connect']) {
  Dispatcher.prototype[name] = function (...args) {
    return api()[name].apply(this, args);
  };
}

const { InvalidArgumentError } = errors;
const { getGlobalDispatcher } = globalDispatcher;

/** undici's index.js makeDispatcher (undici 7), unchanged. */
function makeDispatcher(fn) {
  return (url, opts, handler) => {
    if (typeof opts === 'function') {
      handler = opts;
      opts = null;
    }

    if (!url || (typeof url !== 'string' && typeof url !== 'object' && !(url instanceof URL))) {
      throw new InvalidArgumentError('invalid url');
    }

    if (opts != null && typeof opts !== 'object') {
      throw new InvalidArgumentError('invalid opts');
    }

    if (opts && opts.path != null) {
      if (typeof opts.path !== 'string') {
        throw new InvalidArgumentError('invalid opts.path');
      }

      let path = opts.path;
      if (!opts.path.startsWith('/')) {
        path = `/${path}`;
      }

      url = new URL(util.parseOrigin(url).origin + path);
    } else {
      if (!opts) {
        opts = typeof url === 'object' ? url : {};
      }

      url = util.parseURL(url);
    }

    const { agent, dispatcher = getGlobalDispatcher() } = opts;

    if (agent) {
      throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
    }

    return fn.call(
      dispatcher,
      {
        ...opts,
        origin: url.origin,
        path: url.search ? `${url.pathname}${url.search}` : url.pathname,
        method: opts.method || (opts.body ? 'PUT' : 'GET'),
      },
      handler,
    );
  };
}

const request = makeDispatcher(function (...args) {
  return api().request.apply(this, args);
});

export { Agent, Client, Dispatcher, errors, request };

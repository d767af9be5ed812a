// Stands in for undici's HTTP/2 connector (lib/dispatcher/client-h2.js) in the rel CLI bundle (see
// tsup.config.ts). The connector loads node:http2 as undici loads (a few ms of CPU at every start); rel never
// negotiates HTTP/2 (undici's allowH2 is off), so the real connector is loaded on its first use instead.
let connectH2;
module.exports = function lazyConnectH2(client, socket) {
  connectH2 ??= require('undici/lib/dispatcher/client-h2.js');
  return connectH2(client, socket);
};

// Stands in for a module the rel CLI bundle leaves out (see tsup.config.ts); any use fails clearly.
const fail = () => {
  throw new Error(
    'this Docker feature (ssh:// engines, BuildKit sessions, build contexts from a directory) is not available in the rel CLI',
  );
};
module.exports = new Proxy(fail, { get: (_target, key) => (key === '__esModule' ? false : fail) });

// TLS to a Docker engine on tcp://, set up as the docker CLI does it from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RelError } from '@rel/core';

export interface DockerTlsOptions {
  /**
   * The directory of `ca.pem` (the CA the engine's certificate must chain to), and `cert.pem` with `key.pem`
   * (this client's certificate, when the engine asks for one). Default `$DOCKER_CERT_PATH`, else
   * `$DOCKER_CONFIG`, else `~/.docker`.
   */
  certPath?: string;
}

/** The certificate files, read and checked. */
export interface TlsMaterial {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** Both or neither: the engine may not ask for a client certificate. */
  client?: { certFile: string; cert: Buffer; keyFile: string; key: Buffer };
}

/**
 * TLS as the docker CLI reads it from the environment: on when `DOCKER_TLS_VERIFY` is set (to any value, as for
 * docker: `0` too), verifying the engine against `ca.pem`. `DOCKER_TLS` (TLS without verifying the engine) is
 * not supported.
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): DockerTlsOptions | undefined {
  if (!env.DOCKER_TLS_VERIFY) return undefined;
  return env.DOCKER_CERT_PATH ? { certPath: env.DOCKER_CERT_PATH } : {};
}

/**
 * Reads and checks `ca.pem` (required), `cert.pem` and `key.pem` (both or neither, as docker takes them), so
 * that a missing or broken file is a RelError CONFIG naming it, before any connection.
 */
export function loadTlsMaterial(options: DockerTlsOptions): TlsMaterial {
  const dir =
    options.certPath || process.env.DOCKER_CERT_PATH || process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  const file = (name: string) => join(dir, name);
  const caFile = file('ca.pem');
  const ca = readPem(caFile, 'the CA certificate the engine is verified against');
  if (!ca) throw missing(caFile, 'the CA certificate the engine is verified against (DOCKER_TLS_VERIFY is set)');
  const crypto = process.getBuiltinModule('node:crypto');
  parsed(caFile, 'a PEM certificate', () => new crypto.X509Certificate(ca));

  const certFile = file('cert.pem');
  const keyFile = file('key.pem');
  const cert = readPem(certFile, 'the client certificate');
  const key = readPem(keyFile, 'the key of the client certificate');
  if (!cert && !key) return { dir, caFile, ca };
  if (!cert) throw missing(certFile, `the client certificate (${keyFile} is there)`);
  if (!key) throw missing(keyFile, `the key of the client certificate ${certFile}`);
  const x509 = parsed(certFile, 'a PEM certificate', () => new crypto.X509Certificate(cert));
  const keyObject = parsed(keyFile, 'a PEM private key without a passphrase', () => crypto.createPrivateKey(key));
  if (!x509.checkPrivateKey(keyObject)) {
    throw new RelError('CONFIG', `Docker TLS: ${keyFile} is not the key of the certificate ${certFile}`);
  }
  return { dir, caFile, ca, client: { certFile, cert, keyFile, key } };
}

/** The file's bytes; undefined when it does not exist. */
function readPem(path: string, what: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new RelError('CONFIG', `Docker TLS: cannot read ${path}, ${what} (${code ?? (error as Error).message})`, {
      cause: error,
    });
  }
}

function missing(path: string, what: string): RelError {
  return new RelError('CONFIG', `Docker TLS: ${path} is missing: ${what}`, { details: { file: path } });
}

function parsed<T>(path: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new RelError('CONFIG', `Docker TLS: ${path} is not ${what}`, { cause: error, details: { file: path } });
  }
}

// Node's codes for an engine certificate that does not verify (OpenSSL's X509 verify results, and Node's own
// host name check).
const UNVERIFIED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A clear RelError for a TLS failure with the engine, or undefined when `error` is no such failure. */
export function explainTlsFailure(error: unknown, endpoint: string, material: TlsMaterial): RelError | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return undefined;
  const reason = typeof message === 'string' ? tlsReason(message) : code;
  const options = { cause: error, details: { endpoint } };
  if (UNVERIFIED.has(code)) {
    return new RelError(
      'UNREACHABLE',
      `the Docker engine at ${endpoint} presented a certificate that ${material.caFile} does not verify: ${reason}`,
      options,
    );
  }
  if (/^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(code)) {
    const ours = material.client ? `the client certificate ${material.client.certFile}` : 'no client certificate';
    return new RelError(
      'AUTH',
      `the Docker engine at ${endpoint} refused the TLS connection with ${ours} (cert.pem and key.pem in ${material.dir}): ${reason}`,
      options,
    );
  }
  if (/^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG)$/.test(code) || /^wrong version number$/.test(reason)) {
    return new RelError(
      'CONFIG',
      `the Docker engine at ${endpoint} does not speak TLS, but DOCKER_TLS_VERIFY is set: ${reason}`,
      options,
    );
  }
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') {
    return new RelError('UNREACHABLE', `TLS with the Docker engine at ${endpoint} failed: ${reason}`, options);
  }
  return undefined;
}

/**
 * OpenSSL's reason out of its error line (`80AC...:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad
 * certificate:../deps/openssl/...:1601:SSL alert number 42` -> `sslv3 alert bad certificate`); Node's own
 * messages as they are.
 */
function tlsReason(message: string): string {
  const openssl = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)/.exec(message);
  return (openssl ? openssl[1]! : message).replace(/\s+/g, ' ').trim();
}

/** A plain-HTTP client's request to an engine that speaks TLS: Go's TLS server answers 400 in those words. */
export function explainPlainToTls(error: unknown, endpoint: string): RelError | undefined {
  const { statusCode, message } = (error ?? {}) as { statusCode?: unknown; message?: unknown };
  if (statusCode !== 400 || typeof message !== 'string' || !/HTTP request to an HTTPS server/i.test(message)) {
    return undefined;
  }
  return new RelError(
    'CONFIG',
    `the Docker engine at ${endpoint} speaks TLS, not plain HTTP: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH ` +
      '(the directory of ca.pem, cert.pem and key.pem)',
    { cause: error, details: { endpoint } },
  );
}

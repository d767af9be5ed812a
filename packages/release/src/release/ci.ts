import type { CiBuild } from './journal.js';

/**
 * The CI build this process runs in, from Jenkins' environment: `BUILD_URL`, `BUILD_TAG`, `JOB_NAME`, and who
 * started it (`BUILD_USER_ID`/`BUILD_USER` from the build-user-vars plugin). Undefined outside a build.
 */
export function ciBuildFromEnvironment(env: NodeJS.ProcessEnv = process.env): CiBuild | undefined {
  const pick = (name: string) => {
    const value = env[name]?.trim();
    return value ? value.slice(0, 500) : undefined;
  };
  const build: CiBuild = {};
  const url = pick('BUILD_URL');
  if (url && /^https?:\/\//.test(url)) build.buildUrl = url;
  const tag = pick('BUILD_TAG');
  if (tag) build.buildTag = tag;
  const job = pick('JOB_NAME');
  if (job) build.jobName = job;
  const user = pick('BUILD_USER_ID') ?? pick('BUILD_USER');
  if (user) build.startedBy = user;
  return Object.keys(build).length > 0 ? build : undefined;
}

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const selfcheck = fileURLToPath(new URL('../test/pipeline-standin/selfcheck.sh', import.meta.url));

// The pipeline tests are only as good as the stand-in they run on: its own example pipelines check that it
// behaves as Jenkins does (stages skipped by when, a failed sh failing its stage and skipping the rest, post order,
// input proceed/abort, credentials, junit and archiveArtifacts, worsen-only results, lines streamed as they come,
// timeouts), and that it refuses what Jenkins' validation refuses.
describe('the stand-in for the Jenkins pipeline DSL', () => {
  it('passes its self-check', async () => {
    const { stdout } = await promisify(execFile)(selfcheck, { maxBuffer: 1 << 24, timeout: 150_000 });
    expect(stdout).toMatch(/pipeline stand-in self-check: (\d+)\/\1 checks passed/);
  });
});

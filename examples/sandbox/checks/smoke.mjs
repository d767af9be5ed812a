// A pre-switch check of the sandbox example (release.checks in rel.config.yaml): before traffic moves, the idle
// environment's API must read its database and its client must serve the page. rel runs it with the idle
// environment's addresses in REL_API_URL and REL_CLIENT_URL; exit 0 passes, anything else stops the release.
const checks = [
  [`${process.env.REL_API_URL}/items?limit=1`, (body) => Array.isArray(JSON.parse(body).items)],
  [`${process.env.REL_CLIENT_URL}/`, (body) => body.includes('<html')],
];
for (const [url, valid] of checks) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = await response.text();
  if (response.status !== 200 || !valid(body)) {
    console.error(`smoke: ${url} answered ${response.status}: ${body.slice(0, 120)}`);
    process.exit(1);
  }
  console.log(`smoke: ${url} answered 200`);
}

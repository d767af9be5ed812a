// The seed's backend pipeline (section 1 of its flow): a build releases a new backend version; the frontend keeps
// the version live runs. Parameters: VERSION (required), REPLICATE, MONITOR, APPROVAL. The stages and the rest are
// the shared library's step vars/relRelease.groovy; apps/jenkins/README.md has the job set-up.
@Library('rel') _

relRelease(component: 'backend')

// relRelease: rel's release pipeline, a step of the Jenkins shared library `rel` (this folder, vars/).
//
//   @Library('rel') _
//   relRelease(component: 'backend')          // pipelines/backend-release.groovy; 'frontend' for the other
//
// One build is one release (`rel release` to the idle environment). Each stage runs one `rel-jenkins` command that
// takes the release one or more steps further and holds it (the journal ties the stages together: another release
// is refused until this one ends); the build page shows the seed's steps as stages, each with its own time, log and
// result. The README of @rel/jenkins has the job set-up, the credentials and the exit-code-to-result table.
//
// Settings (all optional):
//   component       'backend' or 'frontend': only that component changes, the other keeps the live version;
//                   'both' releases both at VERSION (default 'both')
//   credentials     [VARIABLE: 'credentials-id'] secret-text credentials bound as environment variables, which
//                   rel.config.yaml reads as ${VARIABLE}; merged over the defaults below (an ID of null drops one)
//   relJenkins      the rel-jenkins command (default $REL_JENKINS, else rel-jenkins on the agent's PATH)
//   config          the rel.config.yaml (default $REL_CONFIG, else rel.config.yaml in the workspace)
//   timeoutMinutes  the whole build (default 120); approvalMinutes: how long the approval waits (default 60)
//   approvers       who may approve the switch (the input step's `submitter`: user or group IDs, comma-separated)

def call(Map settings = [:]) {
  String component = settings.component ?: 'both'
  if (!(component in ['backend', 'frontend', 'both'])) {
    error "relRelease: component must be 'backend', 'frontend' or 'both', not '${component}'"
  }
  Map credentialIds = [
    REL_REGISTRY_TOKEN: 'rel-registry-token',
    REL_DB_PASSWORD   : 'rel-db-password',
    REL_WEBHOOK_URL   : 'rel-webhook-url',
  ] + (settings.credentials ?: [:])
  String relJenkins = settings.relJenkins ?: env.REL_JENKINS ?: 'rel-jenkins'
  String relConfig = settings.config ?: env.REL_CONFIG ?: 'rel.config.yaml'
  int timeoutMinutes = (settings.timeoutMinutes ?: 120) as int
  int approvalMinutes = (settings.approvalMinutes ?: 60) as int
  // who started the build: the Build User Vars plugin's BUILD_USER_ID, else the user cause Jenkins records itself
  String startedBy = env.BUILD_USER_ID ?: ''
  if (!startedBy) {
    List userCauses = currentBuild.getBuildCauses('hudson.model.Cause$UserIdCause')
    if (userCauses) startedBy = userCauses[0].userId ?: ''
  }
  List secretVariables = []
  for (String variable : credentialIds.keySet()) {
    if (credentialIds[variable]) secretVariables.add(variable)
  }

  pipeline {
    agent any
    options {
      timeout(time: timeoutMinutes, unit: 'MINUTES')
      // one build at a time; rel's own lock and journal refuse a second release from any other job too
      disableConcurrentBuilds()
      buildDiscarder(logRotator(numToKeepStr: '100'))
    }
    parameters {
      string(name: 'VERSION', defaultValue: '', trim: true,
             description: 'The image tag to release, for example v20251108-001 (required).')
      booleanParam(name: 'REPLICATE', defaultValue: false,
                   description: "Copy the live environment's database into the idle one before migrating.")
      string(name: 'MONITOR', defaultValue: '10m', trim: true,
             description: 'Watch production this long after the switch and roll back on a breach (0: no watch).')
      booleanParam(name: 'APPROVAL', defaultValue: false,
                   description: 'Pause before switching traffic until someone approves.')
    }
    environment {
      REL_JENKINS = "${relJenkins}"
      REL_CONFIG = "${relConfig}"
      REL_COMPONENT = "${component}"
      BUILD_USER_ID = "${startedBy}"
      REL_REPORT_DIR = 'rel-report'
      // the names (never the values) of the bound credentials: rel-jenkins never prints their values
      REL_SECRET_VARIABLES = "${secretVariables.join(',')}"
    }
    stages {
      stage('Check input') {
        steps {
          sh 'rm -rf -- "$REL_REPORT_DIR"'
          script { relRun(credentialIds, 'check' + relParameters()) }
        }
      }
      stage('Pull images') {
        steps { script { relRun(credentialIds, 'start --until pull' + relParameters()) } }
      }
      stage('Deploy backend') {
        steps { script { relRun(credentialIds, 'continue --until deploy-backend') } }
      }
      stage('Replicate data') {
        when { expression { params.REPLICATE } }
        steps { script { relRun(credentialIds, 'continue --until replicate') } }
      }
      stage('Migrate database') {
        steps { script { relRun(credentialIds, 'continue --until migrate') } }
      }
      stage('Deploy frontend') {
        steps { script { relRun(credentialIds, 'continue --until deploy-frontend') } }
      }
      stage('Verify') {
        steps { script { relRun(credentialIds, 'continue --until checks') } }
      }
      stage('Approval') {
        when { expression { params.APPROVAL } }
        steps {
          script {
            relRun(credentialIds, 'continue --until approval')
            relApprove(credentialIds, approvalMinutes, settings.approvers)
          }
        }
      }
      stage('Switch traffic') {
        steps { script { relRun(credentialIds, 'continue --until switch') } }
      }
      stage('Monitor production') {
        steps { script { relRun(credentialIds, 'continue --until monitor') } }
      }
    }
    post {
      aborted {
        // the build was stopped (timeout, someone pressed abort): its release ends here; traffic is not moved
        script {
          withEnv(['REL_ABORT_REASON=the Jenkins build was aborted']) {
            relRun(credentialIds, 'abort --reason "$REL_ABORT_REASON"', false)
          }
        }
      }
      cleanup {
        // last, after `aborted`: the reports then include how the release ended
        junit(testResults: 'rel-report/junit.xml', allowEmptyResults: true, skipMarkingBuildUnstable: true)
        archiveArtifacts(artifacts: 'rel-report/**', allowEmptyArchive: true, fingerprint: true)
        script {
          if (fileExists('rel-report/summary.md')) currentBuild.description = readFile('rel-report/summary.md')
        }
      }
    }
  }
}

// The build's parameters as rel-jenkins options: shell variables in single quotes, expanded by the shell, never
// pasted into the script by Groovy (a VERSION of `v1; rm -rf /` stays one argument, and fails the check).
String relParameters() {
  return ' --component "$REL_COMPONENT" --version "$VERSION" --replicate "$REPLICATE" --monitor "$MONITOR"' +
    ' --approval "$APPROVAL"'
}

// Runs `rel-jenkins <arguments>` with the credentials bound as environment variables. Its exit code decides the
// build: 0 goes on; any other ends the stage with the result of relResults() (unless `mapResult` is false).
def relRun(Map credentialIds, String arguments, boolean mapResult = true) {
  int code = 0
  withCredentials(relBindings(credentialIds)) {
    code = sh(script: '"$REL_JENKINS" --config "$REL_CONFIG" ' + arguments, returnStatus: true,
              label: 'rel-jenkins ' + arguments.tokenize(' ')[0])
  }
  if (code == 0 || !mapResult) return code
  Map outcome = relResults()[code] ?: [result: 'FAILURE', text: 'rel-jenkins failed']
  currentBuild.result = outcome.result
  error("rel-jenkins exited with ${code}: ${outcome.text}")
}

// The approval: an input step; approved, the release goes on (the approver is recorded), else it is aborted.
def relApprove(Map credentialIds, int minutes, String approvers) {
  Map question = [message: "Switch production traffic to ${params.VERSION}? The idle environment is deployed and verified.",
                  ok: 'Switch', submitterParameter: 'APPROVER']
  if (approvers) question.submitter = approvers
  def approver = null
  try {
    timeout(time: minutes, unit: 'MINUTES') {
      approver = input(question)
    }
  } catch (err) {
    withEnv(['REL_ABORT_REASON=the switch was not approved']) {
      relRun(credentialIds, 'abort --reason "$REL_ABORT_REASON"', false)
    }
    throw err
  }
  withEnv(["REL_APPROVER=${approver ?: ''}"]) {
    relRun(credentialIds, 'promote --until approval --approver "$REL_APPROVER"')
  }
}

// rel's exit codes as build results (documented in the README's table).
Map relResults() {
  return [
    1  : [result: 'FAILURE', text: 'a release step failed; the log and the summary say what it left'],
    2  : [result: 'FAILURE', text: 'bad input or configuration; nothing was changed'],
    3  : [result: 'NOT_BUILT', text: 'another release is open or holds the lock; nothing was changed'],
    4  : [result: 'FAILURE', text: 'production failed after the switch and traffic was rolled back'],
    5  : [result: 'FAILURE', text: 'the release is paused for approval'],
    130: [result: 'ABORTED', text: 'interrupted; rel release resume or rel release abort'],
  ]
}

// Secret-text credentials by variable name; a missing ID fails the stage with Jenkins' message naming it.
List relBindings(Map credentialIds) {
  List bindings = []
  for (String variable : credentialIds.keySet()) {
    if (credentialIds[variable]) bindings.add(string(credentialsId: credentialIds[variable], variable: variable))
  }
  return bindings
}

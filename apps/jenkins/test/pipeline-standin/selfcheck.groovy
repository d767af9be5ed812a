/*
 * Self-check of the pipeline stand-in: runs the example Jenkinsfiles in examples/ through
 * run-pipeline.groovy (as separate processes, like the tests do) and checks their result files
 * and console logs. Run through selfcheck.sh.   Options: --keep (keep the temp dir)
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

import java.nio.file.Files

File here = new File(getClass().protectionDomain.codeSource.location.toURI()).parentFile
File examples = new File(here, 'examples')
File tmp = Files.createTempDirectory('pipeline-standin-selfcheck').toFile()
boolean keep = args.contains('--keep')

Map credentials = [
        'rel-registry-token': [type: 'string', secret: 's3cr3t-token'],
        'rel-registry'      : [type: 'usernamePassword', username: 'u1', password: 'p@ss'],
]
Map env = [BUILD_URL: 'http://127.0.0.1:8080/job/rel/7/', BUILD_TAG: 'jenkins-rel-7', JOB_NAME: 'rel', BUILD_NUMBER: '7',
           FIXTURES: new File(examples, 'fixtures').path]

// name -> spec additions
Map<String, Map> runs = [
        basic     : [pipeline: '01-basic.groovy', params: [VERSION: ' v2 ', REPLICATE: false, TARGET: 'green', UNDECLARED: 'x']],
        input     : [pipeline: '02-input.groovy', inputs: [[action: 'proceed', submitter: 'mallory'], [action: 'proceed', submitter: 'alice'],
                                                           [action: 'proceed'], [action: 'abort', submitter: 'bob'], [action: 'none'],
                                                           [action: 'abort', submitter: 'carol']]],
        noAnswer  : [pipeline: '02-input.groovy', inputs: []],
        creds     : [pipeline: '03-credentials.groovy'],
        reports   : [pipeline: '04-reports.groovy'],
        malformed : [pipeline: '05-junit-malformed.groovy'],
        invalid   : [pipeline: '06-invalid.groovy'],
        stepsCheck: [pipeline: '07-steps-check.groovy'],
        timeout   : [pipeline: '08-timeout.groovy'],
        parallel  : [pipeline: '09-parallel.groovy'],
        steps     : [pipeline: '10-steps.groovy'],
        noLibrary : [pipeline: '11-missing-library.groovy'],
        syntax    : [pipeline: '12-syntax-error.groovy'],
        stage     : [pipeline: '13-stage-features.groovy', inputs: [[submitter: 'alice', parameters: [COLOUR: 'green']]]],
]

Map<String, Map> results = [:]
Map<String, String> logs = [:]
Map<String, Long> tookMs = [:]

Closure runOne = { String name ->
    Map r = runs[name]
    File dir = new File(tmp, name)
    dir.mkdirs()
    Map spec = [pipeline   : new File(examples, (String) r.pipeline).path,
                libraries  : [rel: new File(examples, 'lib').path],
                workspace  : new File(dir, 'ws').path,
                archiveDir : new File(dir, 'archive').path,
                params     : r.params ?: [:],
                env        : env,
                credentials: credentials,
                inputs     : r.containsKey('inputs') ? r.inputs : [],
                log        : new File(dir, 'build.log').path,
                result     : new File(dir, 'result.json').path]
    File specFile = new File(dir, 'build.json')
    specFile.text = JsonOutput.toJson(spec)
    long t0 = System.currentTimeMillis()
    Process p = new ProcessBuilder('groovy', '-cp', here.path, new File(here, 'run-pipeline.groovy').path, '--spec', specFile.path, '--quiet')
            .redirectErrorStream(true).redirectOutput(new File(dir, 'stdout.txt')).start()
    int rc = p.waitFor()
    synchronized (results) {
        tookMs[name] = System.currentTimeMillis() - t0
        if (rc != 0) println "!! ${name}: run-pipeline exited with ${rc}: ${new File(dir, 'stdout.txt').text}"
        results[name] = new File(spec.result).isFile() ? (Map) new JsonSlurper().parse(new File(spec.result)) : [:]
        logs[name] = new File(spec.log).isFile() ? new File(spec.log).text : ''
    }
}

// The first run compiles the stand-in (cached afterwards); then the rest run a few at a time,
// the slow timeout example first.
runOne('syntax')
List<String> queue = Collections.synchronizedList(['timeout'] + runs.keySet().findAll { !(it in ['syntax', 'timeout']) })
int workers = Math.max(2, Math.min(4, Runtime.runtime.availableProcessors() + 1))
List<Thread> threads = (1..workers).collect {
    Thread.start {
        while (true) {
            String n
            synchronized (queue) { n = queue ? queue.remove(0) : null }
            if (n == null) return
            runOne(n)
        }
    }
}
threads*.join()

List<String> failures = []
int checks = 0
Closure check = { String run, boolean ok, String what ->
    checks++
    if (!ok) failures << "${run}: ${what}".toString()
}
Closure stage = { String run, String name -> results[run].stages.find { it.name == name } ?: [:] }
Closure logHas = { String run, String text -> check(run, logs[run].contains(text), "log should contain: ${text}") }
Closure logLacks = { String run, String text -> check(run, !logs[run].contains(text), "log should not contain: ${text}") }

// ---- 01 basic: stages, when, failing sh, post order, params, environment, library vars, streaming
String r = 'basic'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
check(r, results[r].error == 'script returned exit code 3', "error, got ${results[r].error}")
check(r, results[r].description == 'release v2', "description, got ${results[r].description}")
check(r, results[r].stages*.name == ['Params', 'Stream', 'Library', 'Skipped by when', 'Runs by when', 'Equals', 'Fail', 'After failure'], "stage names ${results[r].stages*.name}")
check(r, results[r].stages*.status == ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SKIPPED', 'SUCCESS', 'SUCCESS', 'FAILED', 'SKIPPED'], "stage statuses ${results[r].stages*.status}")
check(r, stage(r, 'Skipped by when').skipReason == 'when', 'skip reason when')
check(r, stage(r, 'After failure').skipReason == 'earlier failure', 'skip reason earlier failure')
check(r, stage(r, 'Fail').postRan == ['failure'], "stage post ${stage(r, 'Fail').postRan}")
check(r, results[r].postRan == ['always', 'changed', 'unsuccessful', 'failure', 'cleanup'], "post order ${results[r].postRan}")
check(r, results[r].options == ['timeout 5 MINUTES', 'disableConcurrentBuilds', 'timestamps', "buildDiscarder(logRotator(numToKeepStr: '10'))", 'skipDefaultCheckout'], "options ${results[r].options}")
check(r, results[r].parameters*.name == ['VERSION', 'REPLICATE', 'TARGET'] && results[r].parameters[1].default == true, "parameters ${results[r].parameters}")
check(r, results[r].params == [VERSION: 'v2', REPLICATE: false, TARGET: 'green'], "params ${results[r].params}")
logHas(r, 'types: String Boolean green')
logHas(r, 'env: VERSION=v2 REPLICATE=false TARGET=green GREETING2=hello v2! STAGE=Params BUILD=7')
logHas(r, 'Skipped parameter `UNDECLARED`')
logHas(r, '[Pipeline] { (Params)')
logHas(r, '[Pipeline] sh')
logHas(r, '+ echo first')
logHas(r, 'Stage "Skipped by when" skipped due to when conditional')
logHas(r, 'Stage "After failure" skipped due to earlier failure(s)')
logHas(r, 'hello alice from Library')
logHas(r, 'loud=BOB code=4 notes=release notes v1 env=from-script')
logHas(r, 'println reaches the log')
logHas(r, 'post failure result=FAILURE current=FAILURE')
logLacks(r, 'must not run')
check(r, logs[r].trim().endsWith('ERROR: script returned exit code 3\nFinished: FAILURE'), 'log ends with the error and Finished: FAILURE')
Map streamSh = results[r].sh.find { it.script?.contains('echo first') } ?: [lines: []]
Map first = streamSh.lines.find { it.text == 'first' }, second = streamSh.lines.find { it.text == 'second' }
check(r, first && second && (second.at - first.at) >= 900, "lines are streamed: first at ${first?.at}, second at ${second?.at}")
check(r, first && first.at < streamSh.endedAt - 800, 'the first line arrived long before the sh ended')
Map failSh = results[r].sh.find { it.stage == 'Fail' } ?: [:]
check(r, failSh.exitCode == 3, "failing sh exit code ${failSh.exitCode}")

// ---- 02 input
r = 'input'
check(r, results[r].result == 'ABORTED', "result ABORTED, got ${results[r].result}")
check(r, results[r].error == 'Rejected by carol', "error ${results[r].error}")
check(r, results[r].stages*.status == ['SUCCESS', 'SUCCESS', 'ABORTED', 'SKIPPED'], "stage statuses ${results[r].stages*.status}")
check(r, results[r].postRan == ['aborted'], "post ${results[r].postRan}")
logHas(r, 'Switch traffic to green?')
logHas(r, 'Switch or Abort')
logHas(r, 'approved by alice')
logHas(r, 'plain answer is null')
logHas(r, 'caught abort: result=ABORTED cause=Rejected by bob')
logHas(r, 'caught timeout: Timeout has been exceeded')
logHas(r, 'mallory may not answer this input')
logHas(r, 'post aborted: ABORTED')
logLacks(r, 'must not run')
check(r, results[r].inputs.collect { [it.answer, it.submitter] } == [['proceed', 'alice'], ['refused', 'mallory'], ['proceed', 'anonymous'],
                                                                  ['abort', 'bob'], ['timeout', null], ['abort', 'carol']], "inputs ${results[r].inputs}")
r = 'noAnswer'
check(r, results[r].result == 'ABORTED', "result ABORTED, got ${results[r].result}")
check(r, results[r].stages[0].status == 'ABORTED', 'first stage aborted')
logHas(r, 'no answer left')

// ---- 03 credentials
r = 'creds'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
check(r, results[r].error == "Could not find credentials entry with ID 'no-such-credential'", "error ${results[r].error}")
check(r, results[r].stages*.status == ['SUCCESS', 'FAILED'], "stage statuses ${results[r].stages*.status}")
logHas(r, 'token=s3cr3t-token user=u1 pass=p@ss')
logHas(r, 'after: token=unset registry=u1:p@ss usr=u1 psw=p@ss')
logHas(r, "ERROR: Could not find credentials entry with ID 'no-such-credential'")
check(r, results[r].warnings.any { it.contains('A secret was passed to "sh" using Groovy String interpolation') && it.contains('[TOKEN]') }, 'interpolation warning')
logLacks(r, 'must not run')

// ---- 04 reports
r = 'reports'
check(r, results[r].result == 'UNSTABLE', "result UNSTABLE, got ${results[r].result}")
check(r, results[r].error == null, "no error, got ${results[r].error}")
check(r, results[r].stages*.status == ['UNSTABLE', 'UNSTABLE', 'UNSTABLE'], "stage statuses ${results[r].stages*.status}")
Map junit = results[r].junit ? results[r].junit[0] : [:]
check(r, junit.file == 'rel-report/junit.xml' && junit.tests == 5 && junit.failures == 1 && junit.errors == 1 && junit.skipped == 1, "junit counts ${junit.findAll { it.key != 'cases' }}")
check(r, junit.cases*.status == ['passed', 'failed', 'skipped', 'passed', 'failed'], "junit statuses ${junit.cases*.status}")
check(r, junit.cases && junit.cases[0].time == 1.25 && junit.cases[1].message == 'expected blue, got green' && junit.cases[1].text == 'at deploy.test.ts:12', "junit case details ${junit.cases?.take(2)}")
check(r, results[r].archived == ['rel-report/junit.xml', 'rel-report/logs/deep/a.log', 'rel-report/summary.md', 'other/ignored.txt'], "archived ${results[r].archived}")
check(r, new File(tmp, 'reports/archive/rel-report/logs/deep/a.log').text == 'log\n', 'archived file copied with its relative path')
check(r, !new File(tmp, 'reports/archive/rel-report/.gitignore').exists(), 'default excludes apply')
logHas(r, 'after SUCCESS: UNSTABLE')
logHas(r, 'exists: true false result=null')
logHas(r, 'post unstable: UNSTABLE')
check(r, new File(tmp, 'reports/ws/out/written.txt').text == 'read: # summary', 'writeFile/readFile')

// ---- 05 malformed junit
r = 'malformed'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
check(r, results[r].error?.startsWith('Failed to read test report file') && results[r].error.contains('must be terminated'), "error ${results[r].error}")
check(r, results[r].stages*.status == ['SUCCESS', 'FAILED', 'SKIPPED'], "stage statuses ${results[r].stages*.status}")
logHas(r, 'rejected: Testcase "slow" has time="1.5s", which is not a number of seconds')

// ---- 06 invalid pipeline: all errors reported, nothing runs
r = 'invalid'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
check(r, results[r].stages == [] && results[r].sh == [], 'nothing ran')
check(r, !new File(tmp, 'invalid/ws/must-not-exist').exists(), 'the first stage did not run')
['Invalid timeout unit \'MINUTS\'', 'Option "ansiColor" is valid in Jenkins but is not emulated', 'Invalid option type "frobnicate"',
 'Invalid parameter "defaultValu" for string', 'Parameter type "password"', 'Invalid parameter type "listParam"',
 'Unknown conditional branchy', 'Nothing to execute within stage "No steps"',
 'Only one of "matrix", "parallel", "stages", or "steps" allowed for stage "Two bodies"', 'Unknown stage section "step"',
 'Invalid condition "allways"', 'Undefined section "notifications"', '13 errors'].each { String msg ->
    check(r, results[r].error?.contains(msg), "error should mention: ${msg}")
}

// ---- 07 steps block check
r = 'stepsCheck'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
['WorkflowScript: 7: Expected a step', 'WorkflowScript: 9: Expected a step', 'WorkflowScript: 10: Expected a step', 'WorkflowScript: 17: Expected a step'].each { String msg ->
    check(r, results[r].error?.contains(msg), "error should mention: ${msg}")
}

// ---- 08 timeout
r = 'timeout'
check(r, results[r].result == 'ABORTED', "result ABORTED, got ${results[r].result}")
check(r, results[r].error == 'Timeout has been exceeded', "error ${results[r].error}")
check(r, results[r].stages*.status == ['SUCCESS', 'ABORTED', 'SKIPPED'], "stage statuses ${results[r].stages*.status}")
check(r, results[r].postRan == ['always', 'aborted'], "post ${results[r].postRan}")
Map slowSh = results[r].sh.find { it.stage == 'Slow' } ?: [:]
long slowMs = slowSh ? (long) (slowSh.endedAt - slowSh.startedAt) : -1
check(r, slowSh.interrupted == true && slowSh.exitCode == 143, "sh interrupted with 143, got ${slowSh.exitCode}")
check(r, slowMs >= 12000 && slowMs < 30000, "sh ended by SIGKILL 10 s after the 3 s timeout, took ${slowMs} ms")
logHas(r, 'Cancelling nested steps due to timeout')
logHas(r, 'Sending interrupt signal to process')
logHas(r, 'After 10s process did not stop')
logHas(r, 'post sh still runs')
logLacks(r, 'must not run')
File pgidFile = new File(tmp, 'timeout/ws/pgid.txt')
if (pgidFile.isFile()) {
    // no live (non-zombie) process left in the sh's process group
    String pgid = pgidFile.text.trim()
    List<String> live = new File('/proc').listFiles().findAll { it.name ==~ /\d+/ }.findResults { File d ->
        try {
            String stat = new File(d, 'stat').text
            List<String> f = stat.substring(stat.lastIndexOf(')') + 2).split(' ') as List<String>
            return f[2] == pgid && f[0] != 'Z' ? d.name : null
        } catch (ignored) { return null }
    }
    check(r, live.isEmpty(), "process group ${pgid} is gone, still there: ${live}")
} else {
    check(r, false, 'pgid.txt written by the sh')
}
File bgFile = new File(tmp, 'timeout/ws/background.pid')
check(r, bgFile.isFile() && !new File("/proc/${bgFile.text.trim()}/cmdline").exists() || (bgFile.isFile() && new File("/proc/${bgFile.text.trim()}/stat").text.contains(') Z ')),
        "the background process left by a finished sh was killed at the end of the build")

// ---- 09 parallel + agent none
r = 'parallel'
check(r, results[r].result == 'FAILURE', "result FAILURE, got ${results[r].result}")
check(r, results[r].error == 'script returned exit code 1', "error ${results[r].error}")
check(r, stage(r, 'Quick fail').status == 'FAILED' && stage(r, 'Slow').status == 'ABORTED' && stage(r, 'Checks').status == 'FAILED', "statuses ${results[r].stages.collect { [it.name, it.status] }}")
Map slowBranch = results[r].sh.find { it.stage == 'Slow' } ?: [:]
check(r, slowBranch.interrupted == true && (slowBranch.endedAt - slowBranch.startedAt) < 10000, 'failFast interrupted the slow branch')
logHas(r, '[Slow] slow-start')
logHas(r, 'no node: Attempted to execute a step that requires a node context')
logHas(r, 'post always: FAILURE')
logLacks(r, 'slow-end')

// ---- 10 misc steps
r = 'steps'
check(r, results[r].result == 'UNSTABLE', "result UNSTABLE, got ${results[r].result}")
check(r, results[r].stages*.status == ['SUCCESS', 'SUCCESS', 'UNSTABLE'], "stage statuses ${results[r].stages*.status}")
logHas(r, 'results=ab')
logHas(r, '[Pipeline] sh (uses the tool)')
logHas(r, 'tool-ran hi')
logHas(r, 'out=[captured] code=5 where=' + new File(tmp, 'steps/ws/sub/dir').path)
logHas(r, 'Retrying')
logHas(r, 'ERROR: caught by catchError')
logHas(r, 'sleep interrupted: Timeout has been exceeded')
logHas(r, "unknown step: java.lang.NoSuchMethodError: No such DSL method 'noSuchStep'")
List aSh = results[r].sh.findAll { it.script?.contains('A-done') || it.script?.contains('B-done') }
check(r, aSh.size() == 2 && aSh[0].startedAt < aSh[1].endedAt && aSh[1].startedAt < aSh[0].endedAt, 'parallel branches ran concurrently')

// ---- 11 / 12: failures before the pipeline runs still write a result
check('noLibrary', results.noLibrary.result == 'FAILURE' && results.noLibrary.error == 'Could not find any definition of libraries [not-in-the-spec]', "result ${results.noLibrary.subMap(['result', 'error'])}")
check('syntax', results.syntax.result == 'FAILURE' && results.syntax.error?.startsWith('startup failed:'), "result ${results.syntax.subMap(['result', 'error'])}")
check('syntax', logs.syntax.contains('Finished: FAILURE'), 'log written')

// ---- 13 stage features
r = 'stage'
check(r, results[r].result == 'UNSTABLE', "result UNSTABLE, got ${results[r].result}")
check(r, results[r].stages.collect { [it.name, it.status, it.skipReason, it.parent] } == [
        ['Approve via directive', 'SUCCESS', null, null], ['Skipped before input', 'SKIPPED', 'when', null],
        ['Nested', 'UNSTABLE', null, null], ['Inner one', 'SUCCESS', null, 'Nested'], ['Inner two', 'UNSTABLE', null, 'Nested'],
        ['Skipped after unstable', 'SKIPPED', 'unstable', null]], "stages ${results[r].stages.collect { [it.name, it.status, it.skipReason, it.parent] }}")
logHas(r, 'approver=alice colour=green token=s3cr3t-token derived=alice-derived')
logHas(r, 'nested post unstable')
logLacks(r, 'never asked')

println "pipeline stand-in self-check: ${checks - failures.size()}/${checks} checks passed (${runs.size()} builds; " +
        tookMs.collect { k, v -> "${k} ${v} ms" }.join(', ') + ')'
if (failures) {
    failures.each { println "FAIL ${it}" }
    println "logs and results kept in ${tmp}"
    System.exit(1)
}
if (keep) println "kept ${tmp}" else tmp.deleteDir()

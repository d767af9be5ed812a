import hudson.AbortException
import hudson.model.Result
import hudson.model.User
import jenkins.model.CauseOfInterruption
import org.jenkinsci.plugins.credentialsbinding.impl.CredentialNotFoundException
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException
import org.jenkinsci.plugins.workflow.support.steps.input.Rejection

import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.util.concurrent.TimeUnit

/**
 * The pipeline steps of the stand-in. Each behaves like the Jenkins step of the same name as far
 * as a build's observable effects go (console log, environment, files, result); see the comments.
 * Steps are reached through PipelineScript.methodMissing -> invokeGlobal, from steps blocks,
 * script blocks, post conditions and library vars alike.
 */
class Steps {
    /** name -> the parameter a single unnamed argument stands for (null: named arguments only). */
    static final Map<String, String> STEPS = [
            archiveArtifacts: 'artifacts', catchError: null, deleteDir: null, dir: 'path', echo: 'message', error: 'message',
            fileExists      : 'file', input: 'message', isUnix: null, junit: 'testResults', libraryResource: 'resource',
            parallel        : null, pwd: null, readFile: 'file', retry: 'count', script: null, sh: 'script', sleep: 'time',
            timeout         : 'time', timestamps: null, unstable: 'message', waitUntil: null, warnError: 'message',
            withCredentials : 'bindings', withEnv: 'overrides', writeFile: null,
    ].asImmutable()

    /** Steps that need a workspace (Jenkins: "Required context class hudson.FilePath is missing"). */
    static final Set<String> NEEDS_NODE = ['archiveArtifacts', 'deleteDir', 'dir', 'fileExists', 'junit', 'pwd', 'readFile',
                                           'sh', 'writeFile'] as Set

    /** Not steps but argument objects: credential bindings and parameter definitions. */
    static final Set<String> DESCRIBABLES = ['booleanParam', 'choice', 'file', 'string', 'text', 'usernameColonPassword',
                                             'usernamePassword', 'sshUserPrivateKey', 'password'] as Set

    final Build b
    final List<File> libraryDirs = []

    Steps(Build b) { this.b = b }

    // ------------------------------------------------------------------ dispatch

    /** CpsScript order: a Closure in the Binding, a library var's call(), a step, else "No such DSL method". */
    Object invokeGlobal(Object script, String name, Object[] args) {
        if (script instanceof Script) {
            Binding binding = ((Script) script).binding
            if (binding.hasVariable(name) && binding.getVariable(name) instanceof Closure) {
                return ((Closure) binding.getVariable(name)).call(args)
            }
        }
        if (b.globalVars.containsKey(name)) return b.globalVars[name].invokeMethod('call', args)
        if (name in DESCRIBABLES) return describable(name, args)
        if (STEPS.containsKey(name)) return invokeStep(name, args)
        throw new NoSuchMethodError("No such DSL method '${name}' found among steps ${STEPS.keySet().sort()} or globals ${(['currentBuild', 'env', 'params'] + b.globalVars.keySet()).sort()}".toString())
    }

    Object invokeStep(String name, Object[] rawArgs) {
        b.checkInterrupt()
        if (name == 'parallel') return parallelStep(rawArgs)
        StepArgs a = StepArgs.parse(name, rawArgs, STEPS[name])
        if (name in NEEDS_NODE && !b.ctx().hasNode) {
            throw new IllegalStateException("Attempted to execute a step that requires a node context while \u2018agent none\u2019 was specified. Be sure to specify your own \u2018node { ... }\u2019 blocks when using \u2018agent none\u2019. (step: ${name})")
        }
        switch (name) {
            case 'echo': return echo(a)
            case 'error': return error(a)
            case 'sh': return sh(a)
            case 'script': return script(a)
            case 'withEnv': return withEnv(a)
            case 'withCredentials': return withCredentials(a)
            case 'timeout': return timeout(a)
            case 'input': return input(a)
            case 'readFile': return readFile(a)
            case 'writeFile': return writeFile(a)
            case 'fileExists': return fileExists(a)
            case 'junit': return junit(a)
            case 'archiveArtifacts': return archiveArtifacts(a)
            case 'unstable': return unstable(a)
            case 'catchError': return catchError(a)
            case 'warnError': return warnError(a)
            case 'retry': return retry(a)
            case 'dir': return dir(a)
            case 'deleteDir': return deleteDir(a)
            case 'sleep': return sleep(a)
            case 'pwd': return pwd(a)
            case 'isUnix': a.allow(); b.pipelineMarker('isUnix'); return true
            case 'libraryResource': return libraryResource(a)
            case 'timestamps': a.allow(); return block('timestamps', a.requireBody())
            case 'waitUntil': return waitUntil(a)
        }
        throw new IllegalStateException("step ${name} not implemented")
    }

    /** Arguments of a step call: named parameters, or one unnamed value for the step's default parameter, plus an optional body. */
    static class StepArgs {
        String step
        Map named = [:]
        Closure body

        static StepArgs parse(String step, Object[] args, String positional) {
            List list = args == null ? [] : new ArrayList(Arrays.asList(args))
            StepArgs a = new StepArgs(step: step)
            if (list && list[-1] instanceof Closure) a.body = (Closure) list.remove(list.size() - 1)
            if (list.size() == 1 && list[0] instanceof Map) {
                ((Map) list[0]).each { k, v -> a.named[String.valueOf(k)] = v }
            } else if (list.size() == 1) {
                if (positional == null) throw new IllegalArgumentException("${step} takes named parameters only".toString())
                a.named[positional] = list[0]
            } else if (list.size() > 1) {
                throw new IllegalArgumentException("Arguments to \"${step}\" must be explicitly named.".toString())
            }
            return a
        }

        Object get(String k, Object dflt = null) { named.containsKey(k) && named[k] != null ? named[k] : dflt }
        String str(String k, String dflt = null) { Object v = get(k); v == null ? dflt : v.toString() }
        boolean flag(String k, boolean dflt = false) { Object v = get(k); v == null ? dflt : (v as boolean) }

        void allow(String... keys) {
            named.keySet().each { k ->
                if (!(k in keys)) throw new IllegalArgumentException("Invalid parameter \"${k}\" for step \"${step}\"; valid parameters: ${keys as List}".toString())
            }
        }

        Object require(String k) {
            if (get(k) == null) throw new IllegalArgumentException("Missing required parameter: \"${k}\" (step \"${step}\")".toString())
            return named[k]
        }

        Closure requireBody() {
            if (body == null) throw new IllegalArgumentException("The ${step} step needs a block: ${step}(...) { ... }".toString())
            return body
        }

        void noBody() {
            if (body != null) throw new IllegalArgumentException("The ${step} step does not take a block".toString())
        }
    }

    /** A step with a body prints its block markers, like Jenkins' console. */
    private Object block(String name, Closure body) {
        b.pipelineMarker('{')
        try {
            return body.call()
        } finally {
            b.pipelineMarker('}')
            b.pipelineMarker("// ${name}")
        }
    }

    private File resolve(String path) {
        File f = new File(path)
        return f.isAbsolute() ? f : new File(b.ctx().cwd ?: b.workspace, path)
    }

    private void setStageWarning(Result r) {
        Map rec = b.ctx().stageRecord
        if (rec != null && r != null && r != Result.SUCCESS) rec.warning = r.combine((Result) (rec.warning ?: Result.SUCCESS))
    }

    // ------------------------------------------------------------------ describables

    static class CredBinding {
        String kind, credentialsId, variable, usernameVariable, passwordVariable
        String toString() { "${kind}(credentialsId: '${credentialsId}')" }
    }

    private Object describable(String name, Object[] args) {
        if (args.length != 1 || !(args[0] instanceof Map)) throw new IllegalArgumentException("Arguments to \"${name}\" must be explicitly named.".toString())
        Map m = [:]
        ((Map) args[0]).each { k, v -> m[String.valueOf(k)] = v }
        if (m.containsKey('credentialsId') || name in ['usernamePassword', 'usernameColonPassword', 'sshUserPrivateKey']) {
            Map<String, List<String>> keys = [string: ['credentialsId', 'variable'], file: ['credentialsId', 'variable'],
                                              usernamePassword: ['credentialsId', 'usernameVariable', 'passwordVariable'],
                                              usernameColonPassword: ['credentialsId', 'variable']]
            if (!keys.containsKey(name)) throw new IllegalArgumentException("Credential binding \"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in".toString())
            m.keySet().each { k -> if (!(k in keys[name])) throw new IllegalArgumentException("Invalid parameter \"${k}\" for ${name}; valid parameters: ${keys[name]}".toString()) }
            keys[name].each { k -> if (!m[k]) throw new IllegalArgumentException("Missing required parameter: \"${k}\" for ${name}".toString()) }
            return new CredBinding(kind: name, credentialsId: String.valueOf(m.credentialsId), variable: m.variable?.toString(),
                    usernameVariable: m.usernameVariable?.toString(), passwordVariable: m.passwordVariable?.toString())
        }
        if (!(name in ['string', 'text', 'booleanParam', 'choice'])) {
            throw new IllegalArgumentException("\"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in".toString())
        }
        PipelineModel.Parser p = new PipelineModel.Parser(b.script)
        PipelineModel.ParamDef d = ParametersBuilder.define(p, name, m)
        if (p.errors) throw new IllegalArgumentException(p.errors.join('\n'))
        return d
    }

    // ------------------------------------------------------------------ simple steps

    private Object echo(StepArgs a) {
        a.allow('message'); a.noBody()
        b.pipelineMarker('echo')
        b.log(String.valueOf(a.get('message', '')))
        return null
    }

    /** `error 'msg'`: fails with an AbortException, printed as "ERROR: msg" when the build ends. */
    private Object error(StepArgs a) {
        a.allow('message'); a.noBody()
        b.pipelineMarker('error')
        throw new AbortException(a.str('message', ''))
    }

    private Object script(StepArgs a) {
        a.allow()
        b.pipelineMarker('script')
        Closure body = a.requireBody()
        return block('script', body)
    }

    /** `withEnv(['A=b', 'PATH+X=/dir'])`: environment overrides for the body (they win over env.X writes, as in Jenkins). */
    private Object withEnv(StepArgs a) {
        a.allow('overrides')
        Object ov = a.require('overrides')
        if (!(ov instanceof List)) throw new IllegalArgumentException('withEnv expects a list of "KEY=value" strings')
        Map<String, String> layer = new LinkedHashMap<String, String>()
        ((List) ov).each { Object item ->
            String s = String.valueOf(item)
            int eq = s.indexOf('=')
            if (eq <= 0) throw new IllegalArgumentException("withEnv: \"${s}\" is not of the form KEY=value".toString())
            layer[s.substring(0, eq)] = s.substring(eq + 1)
        }
        b.pipelineMarker('withEnv')
        Closure body = a.requireBody()
        return b.withCtx({ Build.Ctx c -> c.envLayers << layer }) { block('withEnv', body) }
    }

    private Object unstable(StepArgs a) {
        a.allow('message'); a.noBody()
        b.pipelineMarker('unstable')
        b.log("WARNING: ${a.require('message')}")
        b.worsen(Result.UNSTABLE)
        setStageWarning(Result.UNSTABLE)
        return null
    }

    /** catchError: a failure in the body is printed, sets buildResult/stageResult, and the build goes on. */
    private Object catchError(StepArgs a) {
        a.allow('buildResult', 'stageResult', 'message', 'catchInterruptions')
        Result buildResult = a.named.containsKey('buildResult') ? (a.named.buildResult == null ? null : Result.fromString(a.str('buildResult'))) : Result.FAILURE
        Result stageResult = a.named.containsKey('stageResult') ? (a.named.stageResult == null ? null : Result.fromString(a.str('stageResult'))) : Result.SUCCESS
        return catching('catchError', a.requireBody(), a.str('message'), buildResult, stageResult, a.flag('catchInterruptions', true))
    }

    private Object warnError(StepArgs a) {
        a.allow('message', 'catchInterruptions')
        return catching('warnError', a.requireBody(), String.valueOf(a.require('message')), Result.UNSTABLE, Result.UNSTABLE, a.flag('catchInterruptions', true))
    }

    private Object catching(String step, Closure body, String message, Result buildResult, Result stageResult, boolean catchInterruptions) {
        b.pipelineMarker(step)
        b.pipelineMarker('{')
        try {
            body.call()
        } catch (Throwable t) {
            if (t instanceof FlowInterruptedException && !catchInterruptions) throw t
            if (message) b.log(message)
            b.printError(t)
            if (buildResult != null && buildResult != Result.SUCCESS) b.worsen(buildResult)
            setStageWarning(stageResult)
        } finally {
            b.pipelineMarker('}')
            b.pipelineMarker("// ${step}")
        }
        return null
    }

    private Object retry(StepArgs a) {
        a.allow('count', 'conditions')
        if (a.get('conditions') != null) throw new IllegalArgumentException('retry(conditions: ...) is not emulated by the pipeline stand-in')
        int count = a.require('count') as int
        Closure body = a.requireBody()
        return retryBlock(count, body)
    }

    /** Like the retry step: up to `count` attempts; an interruption (abort, timeout) is not retried. */
    Object retryBlock(int count, Closure body) {
        b.pipelineMarker('retry')
        try {
            for (int attempt = 1; ; attempt++) {
                b.pipelineMarker('{')
                try {
                    return body.call()
                } catch (Throwable t) {
                    if (t instanceof FlowInterruptedException || attempt >= count) throw t
                    b.printError(t)
                    b.log('Retrying')
                } finally {
                    b.pipelineMarker('}')
                }
            }
        } finally {
            b.pipelineMarker('// retry')
        }
    }

    private Object timeout(StepArgs a) {
        a.allow('time', 'unit', 'activity')
        PipelineModel.Parser p = new PipelineModel.Parser(b.script)
        OptionsBuilder.validateTimeout(p, a.named)
        if (p.errors) throw new IllegalArgumentException(p.errors.join('\n'))
        return timeoutBlock(a.named, a.requireBody())
    }

    /**
     * timeout step / option: when the time is up, the step running at that moment (sh, input, sleep)
     * is interrupted with a FlowInterruptedException (ABORTED, "Timeout has been exceeded").
     */
    Object timeoutBlock(Map args, Closure body) {
        long ms = TimeUnit.valueOf(String.valueOf(args.unit ?: 'MINUTES')).toMillis(((Number) args.time).longValue())
        Build.Deadline d = new Build.Deadline(at: System.currentTimeMillis() + ms, millis: ms)
        b.pipelineMarker('timeout')
        b.log("Timeout set to expire in ${Build.timeSpan(ms)}")
        return b.withCtx({ Build.Ctx c -> c.deadlines << d }) { block('timeout', body) }
    }

    private Object dir(StepArgs a) {
        a.allow('path')
        File target = resolve(a.str('path', '.'))
        b.pipelineMarker('dir')
        b.log("Running in ${target.path}")
        target.mkdirs()
        Closure body = a.requireBody()
        return b.withCtx({ Build.Ctx c -> c.cwd = target.canonicalFile }) { block('dir', body) }
    }

    private Object deleteDir(StepArgs a) {
        a.allow(); a.noBody()
        b.pipelineMarker('deleteDir')
        File d = b.ctx().cwd ?: b.workspace
        d.deleteDir()
        return null
    }

    private Object pwd(StepArgs a) {
        a.allow('tmp'); a.noBody()
        b.pipelineMarker('pwd')
        File d = b.ctx().cwd ?: b.workspace
        return a.flag('tmp') ? new File(d.parentFile, d.name + '@tmp').path : d.path
    }

    private Object sleep(StepArgs a) {
        a.allow('time', 'unit'); a.noBody()
        long ms = TimeUnit.valueOf(a.str('unit', 'SECONDS')).toMillis((a.require('time') as Number).longValue())
        b.pipelineMarker('sleep')
        b.log("Sleeping for ${Build.timeSpan(ms)}")
        b.interruptibleSleep(ms)
        return null
    }

    /** waitUntil { bool }: re-runs the body with growing pauses (250 ms x1.2, at most 15 s) until true. */
    private Object waitUntil(StepArgs a) {
        a.allow('initialRecurrencePeriod', 'quiet')
        Closure body = a.requireBody()
        long pause = (a.get('initialRecurrencePeriod', 250) as Number).longValue()
        b.pipelineMarker('waitUntil')
        b.pipelineMarker('{')
        try {
            while (true) {
                if (body.call() as boolean) return null
                if (!a.flag('quiet')) b.log("Will try again after ${Build.timeSpan(pause)}")
                b.interruptibleSleep(pause)
                pause = Math.min(15000L, (long) (pause * 1.2d))
            }
        } finally {
            b.pipelineMarker('}')
            b.pipelineMarker('// waitUntil')
        }
    }

    // ------------------------------------------------------------------ files

    private Object readFile(StepArgs a) {
        a.allow('file', 'encoding'); a.noBody()
        b.pipelineMarker('readFile')
        File f = resolve(a.require('file').toString())
        if (!f.isFile()) throw new NoSuchFileException(f.path)
        return f.getText(a.str('encoding', 'UTF-8'))
    }

    private Object writeFile(StepArgs a) {
        a.allow('file', 'text', 'encoding'); a.noBody()
        b.pipelineMarker('writeFile')
        File f = resolve(a.require('file').toString())
        if (a.get('text') == null) throw new IllegalArgumentException('Missing required parameter: "text" (step "writeFile")')
        f.parentFile?.mkdirs()
        f.setText(a.str('text'), a.str('encoding', 'UTF-8'))
        return null
    }

    private Object fileExists(StepArgs a) {
        a.allow('file'); a.noBody()
        b.pipelineMarker('fileExists')
        return resolve(a.str('file', '')).exists()
    }

    private Object libraryResource(StepArgs a) {
        a.allow('resource', 'encoding'); a.noBody()
        b.pipelineMarker('libraryResource')
        String res = a.require('resource').toString()
        for (File dir : libraryDirs) {
            File f = new File(dir, 'resources/' + res)
            if (f.isFile()) return f.getText(a.str('encoding', 'UTF-8'))
        }
        throw new AbortException("No such library resource ${res} could be found.".toString())
    }

    // ------------------------------------------------------------------ sh

    /**
     * sh: writes the script to <workspace>@tmp/durable-XXXX/script.sh and runs `sh -xe script.sh`
     * (or the script itself if it starts with #!), in its own session/process group (setsid), with
     * cwd = current dir and the build's environment. Output is streamed to the log line by line as
     * it arrives. On timeout/abort: SIGTERM to the process group, SIGKILL 10 s later.
     */
    private Object sh(StepArgs a) {
        a.allow('script', 'returnStatus', 'returnStdout', 'label', 'encoding'); a.noBody()
        Object rawScript = a.require('script')
        String script = rawScript.toString()
        boolean returnStatus = a.flag('returnStatus'), returnStdout = a.flag('returnStdout')
        if (returnStatus && returnStdout) throw new IllegalArgumentException('You may not use both returnStdout and returnStatus')
        String label = a.str('label')
        Build.Ctx ctx = b.ctx()
        b.pipelineMarker(label ? "sh (${label})" : 'sh')
        warnInterpolatedSecrets('sh', rawScript, ctx)

        File tmp = new File(b.tmpDir(), 'durable-' + UUID.randomUUID().toString().substring(0, 8))
        tmp.mkdirs()
        File scriptFile = new File(tmp, 'script.sh')
        scriptFile.setText(script, 'UTF-8')
        List<String> cmd
        if (script.startsWith('#!')) {
            scriptFile.setExecutable(true)
            cmd = [scriptFile.path]
        } else {
            cmd = ['/bin/sh', '-xe', scriptFile.path]
        }
        if (new File('/usr/bin/setsid').canExecute() || new File('/bin/setsid').canExecute()) cmd = ['setsid'] + cmd

        File cwd = ctx.cwd ?: b.workspace
        cwd.mkdirs()
        Map<String, String> env = b.effectiveEnv()
        // Like Jenkins: every process of the build carries the build's cookie (ProcessTreeKiller), unless
        // the pipeline asked for JENKINS_NODE_COOKIE=dontKillMe.
        if (env.JENKINS_NODE_COOKIE != 'dontKillMe') env.JENKINS_NODE_COOKIE = b.nodeCookie
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd).redirectInput(ProcessBuilder.Redirect.from(new File('/dev/null')))
        pb.environment().clear()
        pb.environment().putAll(env)
        pb.redirectErrorStream(!returnStdout)

        Map rec = [stage: ctx.stage, label: label, script: script, cwd: cwd.path, returnStatus: returnStatus, returnStdout: returnStdout,
                   exitCode: null, startedAt: System.currentTimeMillis(), endedAt: null, lines: Collections.synchronizedList([])]
        b.shRecords << rec
        Process p = pb.start()
        long pid = (long) p.pid()

        ByteArrayOutputStream stdout = new ByteArrayOutputStream()
        final boolean[] closed = [false] as boolean[]
        Closure emit = { String text ->
            if (closed[0]) return
            rec.lines << [at: System.currentTimeMillis(), text: text]
            b.log(text)
        }
        // reader threads log with this thread's context (for the parallel-branch prefix)
        List<Thread> readers = []
        if (returnStdout) {
            readers << Thread.start { copyAll(p.inputStream, stdout) }
            readers << Thread.start { b.setCtx(ctx); streamLines(p.errorStream, emit) }
        } else {
            readers << Thread.start { b.setCtx(ctx); streamLines(p.inputStream, emit) }
        }
        FlowInterruptedException interruption = null
        try {
            while (!p.waitFor(20, TimeUnit.MILLISECONDS)) {
                try {
                    b.checkInterrupt()
                } catch (FlowInterruptedException e) {
                    interruption = e
                    stop(p, pid)
                    break
                }
            }
            p.waitFor()
        } finally {
            rec.endedAt = System.currentTimeMillis()
            // drain what is left; a background process still holding the output is not waited for
            // (Jenkins stops reading when the script exits, too)
            readers.each { it.join(1000) }
            closed[0] = true
        }
        int exit = p.exitValue()
        rec.exitCode = exit
        tmp.deleteDir()
        if (interruption != null) {
            rec.interrupted = true
            throw interruption
        }
        if (returnStatus) return exit
        if (exit != 0) throw new AbortException("script returned exit code ${exit}".toString())
        if (returnStdout) {
            String out = new String(stdout.toByteArray(), StandardCharsets.UTF_8)
            rec.stdout = out
            return out
        }
        return null
    }

    /**
     * Like durable-task's stop: SIGTERM to the script's process group (it is the group leader, via
     * setsid); whatever of it is still alive 10 s later gets SIGKILL.
     */
    private void stop(Process p, long pid) {
        b.log('Sending interrupt signal to process')
        Set<Long> members = new LinkedHashSet<Long>(ProcessTree.inGroup(pid))
        members << pid
        p.toHandle().descendants().each { members << it.pid() }
        ProcessTree.signal('TERM', "-${pid}".toString())     // the leader is alive: the group id is ours
        members.each { Long m -> ProcessTree.signal('TERM', String.valueOf(m)) }
        long end = System.currentTimeMillis() + 10000L
        Closure<List<Long>> alive = { -> members.findAll { Long m -> ProcessTree.isAlive(m, pid) } as List<Long> }
        while (System.currentTimeMillis() < end && (p.isAlive() || alive())) {
            members.addAll(ProcessTree.inGroup(pid))
            Thread.sleep(50)
        }
        if (p.isAlive() || alive()) {
            b.log('After 10s process did not stop')
            if (p.isAlive()) ProcessTree.signal('KILL', "-${pid}".toString())
            alive().each { Long m -> ProcessTree.signal('KILL', String.valueOf(m)) }
            p.waitFor()
        }
    }

    private void streamLines(InputStream input, Closure emit) {
        ByteArrayOutputStream cur = new ByteArrayOutputStream()
        byte[] buf = new byte[8192]
        int n
        try {
            while ((n = input.read(buf)) != -1) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] == (byte) 10) {
                        emit.call(new String(cur.toByteArray(), StandardCharsets.UTF_8))
                        cur.reset()
                    } else {
                        cur.write(buf[i])
                    }
                }
            }
        } catch (IOException ignored) {
        }
        if (cur.size() > 0) emit.call(new String(cur.toByteArray(), StandardCharsets.UTF_8))
    }

    private static void copyAll(InputStream input, OutputStream out) {
        try {
            byte[] buf = new byte[8192]
            int n
            while ((n = input.read(buf)) != -1) out.write(buf, 0, n)
        } catch (IOException ignored) {
        }
    }

    /** Jenkins warns when a secret reaches a step through Groovy string interpolation. */
    private void warnInterpolatedSecrets(String step, Object raw, Build.Ctx ctx) {
        if (!(raw instanceof GString) || ctx.secrets.isEmpty()) return
        List<String> vars = []
        ((GString) raw).values.each { Object v ->
            String s = String.valueOf(v)
            ctx.secrets.each { Map sec -> if (sec.value && s.contains(sec.value)) vars << sec.variable }
        }
        if (vars) {
            b.warn("Warning: A secret was passed to \"${step}\" using Groovy String interpolation, which is insecure.\n" +
                    "\t\t Affected argument(s) used the following variable(s): ${vars.unique()}\n" +
                    "\t\t See https://jenkins.io/redirect/groovy-string-interpolation for details.")
        }
    }

    // ------------------------------------------------------------------ credentials

    private Map credential(String id, String expectedKind) {
        Map creds = (Map) (b.spec.credentials ?: [:])
        Map c = (Map) creds[id]
        if (c == null) throw new CredentialNotFoundException("Could not find credentials entry with ID '${id}'".toString())
        String type = String.valueOf(c.type ?: 'string')
        Map<String, String> display = [string: 'Secret text', usernamePassword: 'Username with password', file: 'Secret file']
        Map<String, String> klass = [string: 'org.jenkinsci.plugins.plaincredentials.StringCredentials',
                                     usernamePassword: 'com.cloudbees.plugins.credentials.common.StandardUsernamePasswordCredentials',
                                     file: 'org.jenkinsci.plugins.plaincredentials.FileCredentials']
        if (!display.containsKey(type)) throw new IllegalArgumentException("spec: credential '${id}' has unknown type '${type}' (string, usernamePassword, file)".toString())
        if (expectedKind != null && type != expectedKind) {
            throw new CredentialNotFoundException("Credentials '${id}' is of type '${display[type]}' where '${klass[expectedKind]}' was expected".toString())
        }
        return c + [type: type]
    }

    private String secretFile(Map c, String id) {
        File dir = new File(b.tmpDir(), 'secretFiles/' + UUID.randomUUID().toString())
        dir.mkdirs()
        File f = new File(dir, String.valueOf(c.fileName ?: id))
        if (c.path) f.bytes = new File(String.valueOf(c.path)).bytes
        else f.setText(String.valueOf(c.content ?: ''), 'UTF-8')
        return f.path
    }

    /** `environment { X = credentials('id') }`: X (and X_USR / X_PSW for username/password), like Jenkins. */
    Map<String, String> credentialEnvVars(String name, String id) {
        Map c = credential(id, null)
        switch (c.type) {
            case 'usernamePassword':
                return [(name): "${c.username}:${c.password}".toString(), (name + '_USR'): String.valueOf(c.username), (name + '_PSW'): String.valueOf(c.password)]
            case 'file':
                return [(name): secretFile(c, id)]
            default:
                return [(name): String.valueOf(c.secret)]
        }
    }

    /**
     * withCredentials: binds secrets as environment variables of the body. NOT masked in the log
     * (Jenkins masks them; the stand-in does not, so tests can prove a pipeline never prints one).
     */
    private Object withCredentials(StepArgs a) {
        a.allow('bindings')
        Object list = a.require('bindings')
        if (!(list instanceof List)) throw new IllegalArgumentException('withCredentials expects a list of bindings')
        Closure body = a.requireBody()
        b.pipelineMarker('withCredentials')
        Map<String, String> layer = new LinkedHashMap<String, String>()
        List<Map<String, String>> secrets = []
        ((List) list).each { Object o ->
            if (!(o instanceof CredBinding)) throw new IllegalArgumentException("withCredentials: not a credential binding: ${o}".toString())
            CredBinding cb = (CredBinding) o
            switch (cb.kind) {
                case 'string':
                    Map c = credential(cb.credentialsId, 'string')
                    layer[cb.variable] = String.valueOf(c.secret)
                    secrets << [variable: cb.variable, value: layer[cb.variable]]
                    break
                case 'usernamePassword':
                    Map c = credential(cb.credentialsId, 'usernamePassword')
                    layer[cb.usernameVariable] = String.valueOf(c.username)
                    layer[cb.passwordVariable] = String.valueOf(c.password)
                    secrets << [variable: cb.usernameVariable, value: layer[cb.usernameVariable]]
                    secrets << [variable: cb.passwordVariable, value: layer[cb.passwordVariable]]
                    break
                case 'usernameColonPassword':
                    Map c = credential(cb.credentialsId, 'usernamePassword')
                    layer[cb.variable] = "${c.username}:${c.password}".toString()
                    secrets << [variable: cb.variable, value: layer[cb.variable]]
                    break
                case 'file':
                    Map c = credential(cb.credentialsId, 'file')
                    layer[cb.variable] = secretFile(c, cb.credentialsId)
                    secrets << [variable: cb.variable, value: layer[cb.variable]]
                    break
            }
        }
        b.log("Masking supported pattern matches of ${layer.keySet().collect { '$' + it }.join(' or ')} (pipeline stand-in: masking is NOT applied)")
        return b.withCtx({ Build.Ctx c -> c.envLayers << layer; c.secrets.addAll(secrets) }) { block('withCredentials', body) }
    }

    // ------------------------------------------------------------------ input

    /**
     * input: prints the message and "<ok> or Abort", then takes the next answer from the spec's
     * "inputs". proceed -> returns what Jenkins returns (null; the submitter for submitterParameter
     * alone; the value of a single parameter; else a map); abort -> FlowInterruptedException(ABORTED,
     * Rejection). An answer may wait ("afterMs") or never come ("action": "none"): an enclosing
     * timeout then aborts the input. No answer left: aborted, and the log says so.
     */
    private Object input(StepArgs a) {
        a.allow('message', 'id', 'ok', 'submitter', 'submitterParameter', 'parameters')
        a.noBody()
        String message = a.require('message').toString()
        String ok = a.str('ok', 'Proceed')
        String submitter = a.str('submitter')
        String submitterParameter = a.str('submitterParameter')
        List params = (List) (a.get('parameters') ?: [])
        params.each { if (!(it instanceof PipelineModel.ParamDef)) throw new IllegalArgumentException("input: not a parameter definition: ${it}".toString()) }
        b.pipelineMarker('input')
        b.log(message)
        b.log("${ok} or Abort")
        Map rec = [message: message, id: a.str('id'), ok: ok, answer: null, submitter: null, stage: b.ctx().stage, at: System.currentTimeMillis()]
        b.inputRecords << rec

        while (true) {
            Map answer = null
            synchronized (b.inputAnswers) { if (!b.inputAnswers.isEmpty()) answer = b.inputAnswers.remove(0) }
            if (answer == null) {
                rec.answer = 'abort'
                rec.reason = 'no answer left'
                b.log('Pipeline stand-in: no answer left in the spec\'s "inputs" for this input: aborting it, as if someone clicked Abort')
                b.log('Aborted by stand-in')
                throw new FlowInterruptedException(Result.ABORTED, true, new Rejection(new User('stand-in')))
            }
            String action = String.valueOf(answer.action ?: 'proceed')
            String who = String.valueOf(answer.submitter ?: 'anonymous')
            try {
                if (answer.afterMs) b.interruptibleSleep((answer.afterMs as Number).longValue())
                if (action == 'none') {
                    if (b.millisToNextDeadline() == Long.MAX_VALUE) {
                        rec.answer = 'abort'
                        rec.reason = 'no answer and no timeout'
                        b.log('Pipeline stand-in: the spec says nobody answers this input and no timeout encloses it (Jenkins would wait forever): aborting it')
                        throw new FlowInterruptedException(Result.ABORTED, true, new Rejection(new User('stand-in')))
                    }
                    while (true) b.interruptibleSleep(1000)
                }
            } catch (FlowInterruptedException e) {
                if (rec.answer == null) { rec.answer = 'timeout'; rec.reason = Build.describe(e) }
                throw e
            }
            if (submitter && !(who.toLowerCase() in submitter.split(',')*.trim()*.toLowerCase())) {
                // Jenkins refuses the click (403) and keeps waiting: take the next answer.
                b.log("Pipeline stand-in: ${who} may not answer this input (submitter: ${submitter}); Jenkins would refuse it, waiting for the next answer")
                b.inputRecords << [message: message, id: a.str('id'), ok: ok, answer: 'refused', submitter: who, stage: b.ctx().stage, at: System.currentTimeMillis()]
                continue
            }
            rec.submitter = who
            if (action == 'abort') {
                rec.answer = 'abort'
                b.log("Aborted by ${who}")
                throw new FlowInterruptedException(Result.ABORTED, true, new Rejection(new User(who)))
            }
            if (action != 'proceed') throw new IllegalArgumentException("spec: input answer action must be proceed, abort or none, got '${action}'".toString())
            rec.answer = 'proceed'
            b.log("Approved by ${who}")
            Map given = (Map) (answer.parameters ?: [:])
            Map<String, Object> values = new LinkedHashMap<String, Object>()
            params.each { PipelineModel.ParamDef d ->
                Object v = given.containsKey(d.name) ? given[d.name] : d.defaultValue
                if (d.type == 'booleanParam') v = v instanceof Boolean ? v : 'true'.equalsIgnoreCase(String.valueOf(v))
                else v = String.valueOf(v)
                if (d.type == 'choice' && !(v in d.choices)) throw new IllegalArgumentException("spec: input answer ${d.name}='${v}' is not one of ${d.choices}".toString())
                values[d.name] = v
            }
            if (values) rec.parameters = values
            if (params.isEmpty() && !submitterParameter) return null
            if (params.isEmpty()) return who
            if (params.size() == 1 && !submitterParameter) return values.values().first()
            if (submitterParameter) values[submitterParameter] = who
            return values
        }
    }

    // ------------------------------------------------------------------ junit / archiveArtifacts

    /**
     * junit: reads the matching reports (relative to the current dir). With failures, the stage is
     * marked UNSTABLE unless skipMarkingStageUnstable, and the build too unless skipMarkingBuildUnstable
     * (JUnitResultsStepExecution). Returns a summary like Jenkins' TestResultSummary.
     */
    private Object junit(StepArgs a) {
        a.allow('testResults', 'allowEmptyResults', 'skipMarkingBuildUnstable', 'skipMarkingStageUnstable', 'keepLongStdio',
                'keepProperties', 'keepTestNames', 'healthScaleFactor', 'checksName', 'skipPublishingChecks', 'skipOldReports',
                'stdioRetention', 'testDataPublishers')
        a.noBody()
        String pattern = a.require('testResults').toString()
        b.pipelineMarker('junit')
        b.log('Recording test results')
        File base = b.ctx().cwd ?: b.workspace
        List<String> files = Reports.glob(base, Reports.splitPatterns(pattern), [], true)
        if (files.isEmpty()) {
            if (a.flag('allowEmptyResults')) {
                b.log('None of the test reports contained any result')
                return [totalCount: 0, failCount: 0, skipCount: 0, passCount: 0]
            }
            throw new AbortException('No test report files were found. Configuration error?')
        }
        List<Map> results = files.collect { String rel ->
            try {
                return Reports.parseJunit(new File(base, rel), rel)
            } catch (AbortException e) {
                b.junitRecords << [file: rel, error: e.message]
                throw e
            }
        }
        results.each { b.junitRecords << it }
        int total = (int) results.sum { it.tests }
        int fail = (int) results.sum { it.failures + it.errors }
        int skip = (int) results.sum { it.skipped }
        if (total == 0) {
            if (a.flag('allowEmptyResults')) b.log('None of the test reports contained any result')
            else throw new AbortException('None of the test reports contained any result')
        }
        if (fail > 0 && !a.flag('skipMarkingStageUnstable')) {
            setStageWarning(Result.UNSTABLE)
            if (!a.flag('skipMarkingBuildUnstable')) b.worsen(Result.UNSTABLE)
        }
        return [totalCount: total, failCount: fail, skipCount: skip, passCount: total - fail - skip]
    }

    /** archiveArtifacts: copies the matching files (relative to the current dir) to archiveDir, keeping their relative paths. */
    private Object archiveArtifacts(StepArgs a) {
        a.allow('artifacts', 'allowEmptyArchive', 'excludes', 'fingerprint', 'onlyIfSuccessful', 'caseSensitive', 'defaultExcludes', 'followSymlinks')
        a.noBody()
        String pattern = a.require('artifacts').toString()
        b.pipelineMarker('archiveArtifacts')
        if (a.flag('onlyIfSuccessful') && b.result != null && b.result.isWorseThan(Result.UNSTABLE)) {
            b.log('Skipped archiving because build is not successful')
            return null
        }
        b.log('Archiving artifacts')
        File base = b.ctx().cwd ?: b.workspace
        List<String> files = Reports.glob(base, Reports.splitPatterns(pattern), Reports.splitPatterns(a.str('excludes', '')), a.flag('defaultExcludes', true))
        if (files.isEmpty()) {
            String msg = "No artifacts found that match the file pattern \"${pattern}\". Configuration error?".toString()
            if (a.flag('allowEmptyArchive')) { b.log(msg); return null }
            throw new AbortException(msg)
        }
        files.each { String rel ->
            File to = new File(b.archiveDir, rel)
            to.parentFile.mkdirs()
            Files.copy(new File(base, rel).toPath(), to.toPath(), java.nio.file.StandardCopyOption.REPLACE_EXISTING)
            synchronized (b.archived) { if (!b.archived.contains(rel)) b.archived << rel }
        }
        if (a.flag('fingerprint')) b.log('Recording fingerprints')
        return null
    }

    // ------------------------------------------------------------------ parallel

    /** Jenkins' ParallelStep.FailFastCause. */
    static class FailFastCause extends CauseOfInterruption {
        final String branch
        FailFastCause(String branch) { this.branch = branch }
        String getShortDescription() { "Failed in branch ${branch}".toString() }
    }

    private Object parallelStep(Object[] rawArgs) {
        if (rawArgs.length != 1 || !(rawArgs[0] instanceof Map)) throw new IllegalArgumentException('parallel expects a map of branch name -> closure')
        Map<String, Closure> branches = new LinkedHashMap<String, Closure>()
        boolean failFast = false
        ((Map) rawArgs[0]).each { k, v ->
            if (k == 'failFast') failFast = v as boolean
            else if (v instanceof Closure) branches[String.valueOf(k)] = (Closure) v
            else throw new IllegalArgumentException("parallel: branch ${k} is not a closure".toString())
        }
        return runParallel(branches, failFast)
    }

    /**
     * Runs branches in threads, each with its own copy of the context (log lines prefixed
     * "[branch] "). A failing branch does not stop the others unless failFast, which interrupts
     * them with "Failed in branch X". The first failure is rethrown after all branches ended.
     */
    Object runParallel(Map<String, Closure> branches, boolean failFast) {
        b.pipelineMarker('parallel')
        Build.Ctx parent = b.ctx()
        Map<String, Throwable> errors = Collections.synchronizedMap(new LinkedHashMap<String, Throwable>())
        Map<String, Object> results = Collections.synchronizedMap(new LinkedHashMap<String, Object>())
        List<Build.Ctx> ctxs = []
        List<Thread> threads = []
        branches.each { String name, Closure body ->
            Build.Ctx c = parent.copy()
            c.flow = parent.flow.branch()
            c.prefix = parent.prefix + "[${name}] "
            ctxs << c
            threads << new Thread({
                b.setCtx(c)
                b.pipelineMarker("{ (Branch: ${name})")
                try {
                    results[name] = body.call()
                } catch (Throwable t) {
                    boolean first
                    synchronized (errors) { first = errors.isEmpty(); errors[name] = t }
                    if (failFast && first && !(t instanceof FlowInterruptedException && ((FlowInterruptedException) t).causes.any { it instanceof FailFastCause })) {
                        ctxs.each { Build.Ctx other -> if (other != c) other.flow.pending = new FlowInterruptedException(Result.ABORTED, true, new FailFastCause(name)) }
                    }
                } finally {
                    b.pipelineMarker('}')
                }
            } as Runnable, "branch ${name}")
        }
        threads*.start()
        threads*.join()
        b.pipelineMarker('// parallel')
        if (!errors.isEmpty()) {
            synchronized (errors) { throw errors.values().first() }
        }
        return results
    }
}

/**
 * Linux /proc helpers to stop what a build started, like Jenkins' ProcessTreeKiller (which finds a
 * build's processes by the JENKINS_NODE_COOKIE in their environment). Without /proc, only what
 * the JDK sees (the script and its descendants) is handled.
 */
class ProcessTree {
    private static final File PROC = new File('/proc')

    static boolean available() { new File(PROC, 'self/stat').isFile() }

    /** [state, ppid, pgrp] of a process, or null if it is gone. */
    static List<String> stat(long pid) {
        try {
            String stat = new File(PROC, "${pid}/stat").text
            List<String> f = stat.substring(stat.lastIndexOf(')') + 2).split(' ') as List<String>
            return [f[0], f[1], f[2]]
        } catch (ignored) {
            return null
        }
    }

    static List<Long> allPids() {
        (PROC.listFiles() ?: new File[0]).findAll { it.name ==~ /\d+/ }.collect { it.name as long }
    }

    private static boolean live(List<String> st) { st != null && !(st[0] in ['Z', 'X']) }

    /** Live (not zombie) processes of the process group pgid. */
    static List<Long> inGroup(long pgid) {
        if (!available()) return []
        allPids().findAll { long pid -> List<String> st = stat(pid); live(st) && st[2] == String.valueOf(pgid) }
    }

    /** Is pid alive, not a zombie, and still in group pgid (so not a reused pid)? */
    static boolean isAlive(long pid, long pgid) {
        if (!available()) {
            // (static interface methods such as ProcessHandle.of are out of Groovy 2.4's reach: reflection)
            Optional handle = (Optional) Class.forName('java.lang.ProcessHandle').getMethod('of', long).invoke(null, pid)
            return handle.isPresent() && handle.get().isAlive()
        }
        List<String> st = stat(pid)
        return live(st) && st[2] == String.valueOf(pgid)
    }

    /** Live processes whose environment has JENKINS_NODE_COOKIE=cookie. */
    static List<Long> withCookie(String cookie) {
        if (!available()) return []
        byte[] wanted = "JENKINS_NODE_COOKIE=${cookie}".toString().getBytes('UTF-8')
        long self = new File(PROC, 'self').canonicalFile.name as long
        allPids().findAll { long pid ->
            if (pid == self || !live(stat(pid))) return false
            try {
                return hasEntry(new File(PROC, "${pid}/environ").bytes, wanted)
            } catch (ignored) {
                return false
            }
        }
    }

    /** Does the NUL-separated environment block contain exactly this entry? */
    private static boolean hasEntry(byte[] env, byte[] entry) {
        int start = 0
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == (byte) 0) {
                if (i - start == entry.length && Arrays.equals(Arrays.copyOfRange(env, start, i), entry)) return true
                start = i + 1
            }
        }
        return false
    }

    /** kill -SIG target (a pid, or -pgid for a group); errors ignored. */
    static void signal(String sig, String target) {
        try {
            new ProcessBuilder('kill', "-${sig}".toString(), '--', target).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor()
        } catch (ignored) {
        }
    }
}

import groovy.json.JsonOutput
import hudson.AbortException
import hudson.model.Result
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException
import org.jenkinsci.plugins.workflow.steps.TimeoutStepExecution

import java.nio.charset.StandardCharsets

/**
 * The state of one build: console log, environment, parameters, result, the per-thread step
 * context, and everything recorded for the result file. One build per JVM (Build.current).
 */
class Build {
    static Build current

    final Map spec
    final File workspace
    final File archiveDir
    final File logFile
    final File resultFile
    final boolean echoToStdout
    final long startTime = System.currentTimeMillis()

    /** Build parameters (typed: booleans stay booleans), read-only like Jenkins' `params`. */
    Map<String, Object> params = Collections.unmodifiableMap([:])
    /** The build's environment: process env + spec env + WORKSPACE + parameters + `env.X = ...` writes. */
    final Map<String, String> globalEnv = Collections.synchronizedMap(new LinkedHashMap<String, String>())
    final EnvVarsObject env = new EnvVarsObject(this)
    final RunWrapper currentBuild = new RunWrapper(this)
    final Map<String, Object> globalVars = [:]      // library vars: name -> script instance
    final List<Map> inputAnswers
    Object script                                    // the Jenkinsfile script instance
    boolean pipelineRan                              // `pipeline {}` was called (only once is allowed)
    Steps steps

    /** Run result as Jenkins' Run.result: null until something sets it. */
    volatile Result result
    Throwable firstError
    String description
    String displayName
    Result previousResult                            // from spec.previousResult, for changed/fixed/regression

    // recorded for the result file
    final List<Map> stageRecords = Collections.synchronizedList([])
    final List<Map> shRecords = Collections.synchronizedList([])
    final List<Map> junitRecords = Collections.synchronizedList([])
    final List<String> archived = Collections.synchronizedList([])
    final List<Map> inputRecords = Collections.synchronizedList([])
    final List<String> postRan = Collections.synchronizedList([])
    final List<String> warnings = Collections.synchronizedList([])
    List<String> options = []
    List<Map> parameterDefs = []
    /** Jenkins' JENKINS_NODE_COOKIE of this build: set on every sh, used to find leftover processes. */
    final String nodeCookie = UUID.randomUUID().toString()

    private final OutputStream logOut
    private final ThreadLocal<Ctx> ctxHolder = new ThreadLocal<Ctx>()

    Build(Map spec, boolean echoToStdout) {
        this.spec = spec
        this.echoToStdout = echoToStdout
        workspace = new File(required(spec, 'workspace')).absoluteFile
        archiveDir = new File(spec.archiveDir ?: new File(workspace.parentFile, workspace.name + '-archive').path).absoluteFile
        logFile = new File(required(spec, 'log')).absoluteFile
        resultFile = new File(required(spec, 'result')).absoluteFile
        workspace.mkdirs()
        logFile.parentFile?.mkdirs()
        logOut = new BufferedOutputStream(new FileOutputStream(logFile, false))
        inputAnswers = Collections.synchronizedList(new ArrayList<Map>((List<Map>) (spec.inputs ?: [])))
        if (spec.previousResult) previousResult = Result.fromString(String.valueOf(spec.previousResult))

        globalEnv.putAll(System.getenv())
        ((Map) (spec.env ?: [:])).each { k, v -> if (v != null) globalEnv[String.valueOf(k)] = String.valueOf(v) }
        globalEnv.WORKSPACE = workspace.path
        globalEnv.WORKSPACE_TMP = tmpDir().path
        // Spec params are known before the pipeline declares its parameters (top-level code may read them).
        setParams((Map) (spec.params ?: [:]))

        Ctx root = new Ctx(cwd: workspace)
        ctxHolder.set(root)
    }

    private static String required(Map spec, String key) {
        if (!spec[key]) throw new IllegalArgumentException("spec: \"${key}\" is required")
        return String.valueOf(spec[key])
    }

    File tmpDir() { new File(workspace.parentFile, workspace.name + '@tmp') }

    private Set<String> paramEnvKeys = [] as Set

    void setParams(Map<String, Object> values) {
        params = Collections.unmodifiableMap(new LinkedHashMap<String, Object>(values))
        // Like Jenkins, parameters are also environment variables (as strings).
        Map specEnv = (Map) (spec.env ?: [:])
        paramEnvKeys.each { String k ->
            if (specEnv.containsKey(k)) globalEnv[k] = String.valueOf(specEnv[k])
            else if (System.getenv(k) != null) globalEnv[k] = System.getenv(k)
            else globalEnv.remove(k)
        }
        paramEnvKeys = new HashSet<String>(values.keySet())
        values.each { k, v -> globalEnv[k] = v == null ? '' : String.valueOf(v) }
    }

    // ------------------------------------------------------------------ log

    /** Write one console line (with the parallel-branch prefix of the current thread), flushed at once. */
    void log(String text) {
        String prefix = ctx()?.prefix
        String line = prefix ? text.readLines().collect { prefix + it }.join('\n') : text
        if (text.isEmpty() && prefix) line = prefix
        byte[] bytes = (line + '\n').getBytes(StandardCharsets.UTF_8)
        synchronized (logOut) {
            logOut.write(bytes)
            logOut.flush()
            if (echoToStdout) { System.out.write(bytes); System.out.flush() }
        }
    }

    boolean started                                  // "[Pipeline] Start of Pipeline" was printed

    void pipelineMarker(String text) {
        if (text == 'Start of Pipeline') started = true
        log("[Pipeline] ${text}")
    }

    void warn(String text) {
        warnings << text
        log(text)
    }

    // ------------------------------------------------------------------ context

    /** Per-thread step context: stage, environment layers, timeouts, agent, directory, parallel prefix. */
    static class Ctx {
        String stage
        Map stageRecord
        List<Map<String, String>> envLayers = []
        List<Map<String, String>> secrets = []      // [variable: , value: ] bound by withCredentials / credentials()
        List<Deadline> deadlines = []
        boolean hasNode
        File cwd
        String prefix = ''
        boolean inPost
        Flow flow = new Flow()                      // shared by all copies within one line of execution

        Ctx copy() {
            new Ctx(stage: stage, stageRecord: stageRecord, envLayers: new ArrayList(envLayers), secrets: new ArrayList(secrets),
                    deadlines: new ArrayList(deadlines), hasNode: hasNode, cwd: cwd, prefix: prefix, inPost: inPost, flow: flow)
        }
    }

    /** Interrupt state of one line of execution (the main flow, or one parallel branch). */
    static class Flow {
        volatile FlowInterruptedException pending            // e.g. failFast abort from a sibling branch
        final Set<Deadline> delivered = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<Deadline, Boolean>()))

        Flow branch() {
            Flow f = new Flow()
            f.delivered.addAll(delivered)
            return f
        }
    }

    /** A `timeout` (step or option). Jenkins cancels the body once, then kills it after a grace period. */
    static class Deadline {
        long at
        long millis
        volatile boolean announced
        static final long GRACE_MS = 60000
    }

    Ctx ctx() { ctxHolder.get() }
    void setCtx(Ctx c) { ctxHolder.set(c) }

    /** Run body with a modified copy of the context, restoring it afterwards. */
    Object withCtx(Closure modify, Closure body) {
        Ctx saved = ctx()
        Ctx c = saved.copy()
        modify.call(c)
        setCtx(c)
        try {
            return body.call()
        } finally {
            setCtx(saved)
        }
    }

    /**
     * Called at every step start and while a step waits: delivers an expired timeout (once per line
     * of execution, like Jenkins' timeout cancelling its body), or a failFast abort from a sibling branch.
     */
    void checkInterrupt() {
        Ctx c = ctx()
        FlowInterruptedException p = c.flow.pending
        if (p != null) {
            c.flow.pending = null
            throw p
        }
        long now = System.currentTimeMillis()
        for (Deadline d : c.deadlines) {
            boolean delivered = c.flow.delivered.contains(d)
            if (!delivered && now >= d.at) {
                c.flow.delivered.add(d)
                boolean first
                synchronized (d) { first = !d.announced; d.announced = true }
                if (first) log('Cancelling nested steps due to timeout')
                throw timeoutException()
            }
            if (delivered && now >= d.at + Deadline.GRACE_MS) {
                log('Body did not finish within grace period; terminating with extreme prejudice')
                throw timeoutException()
            }
        }
    }

    /** Milliseconds until the next deadline would fire (Long.MAX_VALUE if none). */
    long millisToNextDeadline() {
        Ctx c = ctx()
        long now = System.currentTimeMillis()
        long best = Long.MAX_VALUE
        c.deadlines.each { Deadline d ->
            long t = c.flow.delivered.contains(d) ? d.at + Deadline.GRACE_MS : d.at
            best = Math.min(best, t - now)
        }
        return best
    }

    static FlowInterruptedException timeoutException() {
        new FlowInterruptedException(Result.ABORTED, true, new TimeoutStepExecution.ExceededTimeout())
    }

    /** Sleep up to ms, waking for interrupts/timeouts (which throw). */
    void interruptibleSleep(long ms) {
        long end = System.currentTimeMillis() + ms
        while (true) {
            checkInterrupt()
            long left = end - System.currentTimeMillis()
            if (left <= 0) return
            Thread.sleep(Math.min(left, 50L))
        }
    }

    // ------------------------------------------------------------------ environment

    /** Value of env var `name` as seen by the current context: withEnv/withCredentials layers win over env.X writes. */
    String envGet(String name) {
        Ctx c = ctx()
        for (int i = c.envLayers.size() - 1; i >= 0; i--) {
            Map<String, String> layer = c.envLayers[i]
            if (layer.containsKey(name)) return layer[name]
        }
        if (name == 'STAGE_NAME' && c.stage != null) return c.stage
        return globalEnv[name]
    }

    /** The full environment for a process started now (sh). `PATH+X=dir` entries prepend to PATH, as in Jenkins. */
    Map<String, String> effectiveEnv() {
        Ctx c = ctx()
        Map<String, String> e = new LinkedHashMap<String, String>()
        synchronized (globalEnv) { e.putAll(globalEnv) }
        if (c.stage != null) e.STAGE_NAME = c.stage
        c.envLayers.each { Map<String, String> layer ->
            layer.each { k, v ->
                int plus = k.indexOf('+')
                if (plus > 0) {
                    String base = k.substring(0, plus)
                    e[base] = e[base] ? "${v}${File.pathSeparator}${e[base]}".toString() : v
                } else if (v == null) {
                    e.remove(k)
                } else {
                    e[k] = v
                }
            }
        }
        return e
    }

    // ------------------------------------------------------------------ result

    /** Like Run.setResult during a build: only ever makes the result worse. */
    void worsen(Result r) {
        synchronized (this) {
            if (r != null && (result == null || r.isWorseThan(result))) result = r
        }
    }

    Result currentResult() { result ?: Result.SUCCESS }

    static Result resultOf(Throwable t) {
        t instanceof FlowInterruptedException ? ((FlowInterruptedException) t).result : Result.FAILURE
    }

    /** What the result file's "error" says about an exception. */
    static String describe(Throwable t) {
        if (t == null) return null
        if (t instanceof FlowInterruptedException) {
            List<String> d = ((FlowInterruptedException) t).causes*.shortDescription
            return d ? d.join('; ') : "Interrupted (${((FlowInterruptedException) t).result})".toString()
        }
        if (t instanceof AbortException) return t.message
        if (t instanceof PipelineModel.ValidationException) return t.message
        if (t instanceof org.codehaus.groovy.control.MultipleCompilationErrorsException) return t.message.trim()
        return t.toString()
    }

    /** How Jenkins prints an error that ends the build (or a post condition): AbortException as "ERROR: msg", others with a trace. */
    void printError(Throwable t) {
        if (t instanceof FlowInterruptedException) {
            ((FlowInterruptedException) t).causes.each { log(it.shortDescription) }
        } else if (t instanceof AbortException) {
            log("ERROR: ${t.message}")
        } else if (t instanceof PipelineModel.ValidationException || t instanceof org.codehaus.groovy.control.MultipleCompilationErrorsException) {
            log("org.codehaus.groovy.control.MultipleCompilationErrorsException: ${t.message.trim()}")
        } else {
            log("ERROR: ${t}")
            scriptFrames(t).each { log("\tat ${it}") }
        }
    }

    /** The stack frames that are in the Jenkinsfile or a library var (the useful part of a trace). */
    List<String> scriptFrames(Throwable t) {
        Set<String> files = ([PipelineModel.SCRIPT_NAME] + globalVars.keySet().collect { "${it}.groovy".toString() }) as Set
        List<String> out = []
        Throwable cur = t
        while (cur != null && out.isEmpty()) {
            cur.stackTrace.each { StackTraceElement e -> if (e.fileName in files && e.lineNumber > 0) out << e.toString() }
            cur = cur.cause
        }
        return out.unique()
    }

    /** Fail the build before/outside the stages (parse error, missing library...). */
    void fail(Throwable t) {
        if (firstError == null) firstError = t
    }

    void finish() {
        // Like Jenkins' ProcessTreeKiller: processes an sh left behind are killed when the build ends.
        try {
            killLeftoverProcesses()
        } catch (Throwable t) {
            log("Pipeline stand-in: could not look for leftover processes: ${t}")
        }
        Result finalResult = currentResult()
        if (firstError != null) finalResult = finalResult.combine(resultOf(firstError))
        result = finalResult
        if (started) pipelineMarker('End of Pipeline')
        if (firstError != null) printError(firstError)
        log("Finished: ${finalResult}")
        writeResult()
        synchronized (logOut) { logOut.close() }
    }

    /**
     * Like Jenkins' ProcessTreeKiller at the end of a build: every process still carrying this
     * build's JENKINS_NODE_COOKIE (background processes an sh left behind) gets SIGTERM, then SIGKILL.
     */
    private void killLeftoverProcesses() {
        List<Long> left = ProcessTree.withCookie(nodeCookie)
        if (left.isEmpty()) return
        left.each { ProcessTree.signal('TERM', String.valueOf(it)) }
        long end = System.currentTimeMillis() + 2000L
        while (System.currentTimeMillis() < end && !ProcessTree.withCookie(nodeCookie).isEmpty()) Thread.sleep(50)
        ProcessTree.withCookie(nodeCookie).each { ProcessTree.signal('KILL', String.valueOf(it)) }
    }

    void writeResult() {
        Map out = [
                result     : String.valueOf(result ?: Result.SUCCESS),
                description: description,
                displayName: displayName,
                error      : describe(firstError),
                options    : options,
                parameters : parameterDefs,
                params     : params,
                stages     : stageRecords.collect { Map s -> s.findAll { k, v -> k != 'warning' && !(k == 'skipReason' && v == null) && !(k == 'parent' && v == null) } },
                sh         : shRecords,
                junit      : junitRecords,
                archived   : archived,
                inputs     : inputRecords,
                postRan    : postRan,
                warnings   : warnings,
                startedAt  : startTime,
                durationMs : System.currentTimeMillis() - startTime,
        ]
        resultFile.parentFile?.mkdirs()
        File tmp = new File(resultFile.path + '.tmp')
        tmp.setText(JsonOutput.prettyPrint(JsonOutput.toJson(jsonSafe(out))), 'UTF-8')
        tmp.renameTo(resultFile) || resultFile.setText(tmp.getText('UTF-8'), 'UTF-8')
    }

    /** Plain JSON values only (GStrings, Results, Files... become strings). */
    static Object jsonSafe(Object v) {
        if (v == null || v instanceof Number || v instanceof Boolean || v instanceof String) return v
        if (v instanceof Map) {
            Map m = new LinkedHashMap()
            synchronized (v) { ((Map) v).each { k, x -> m[String.valueOf(k)] = jsonSafe(x) } }
            return m
        }
        if (v instanceof Collection) {
            List l
            synchronized (v) { l = new ArrayList((Collection) v) }
            return l.collect { jsonSafe(it) }
        }
        return String.valueOf(v)
    }

    /** "5 min 0 sec", "1 hr 0 min", "10 sec" like hudson.Util.getTimeSpanString. */
    static String timeSpan(long ms) {
        long hours = ms.intdiv(3600000L), minutes = (ms % 3600000L).intdiv(60000L), seconds = (ms % 60000L).intdiv(1000L)
        if (hours > 0) return "${hours} hr ${minutes} min"
        if (minutes > 0) return "${minutes} min ${seconds} sec"
        if (ms < 1000) return "${ms} ms"
        if (seconds >= 10 || ms % 1000 == 0) return "${seconds} sec"
        return String.format('%.1f sec', ms / 1000.0d)
    }

    // ------------------------------------------------------------------ env / currentBuild objects

    /** The `env` global: read/write; reads see withEnv layers first (like Jenkins' EnvActionImpl). */
    static class EnvVarsObject extends GroovyObjectSupport {
        private final Build build
        EnvVarsObject(Build b) { build = b }

        Object getProperty(String name) {
            if (name == 'class') return EnvVarsObject
            return build.envGet(name)
        }

        void setProperty(String name, Object value) {
            if (value == null) build.globalEnv.remove(name)
            else build.globalEnv[name] = value.toString()
        }

        Object getAt(String name) { getProperty(name) }
        void putAt(String name, Object value) { setProperty(name, value) }
        Map<String, String> getEnvironment() { build.effectiveEnv() }
        Map<String, String> getOverriddenEnvironment() { build.effectiveEnv() }
        String toString() { 'env' }
    }

    /** The `currentBuild` global, like Jenkins' RunWrapper. */
    static class RunWrapper {
        private final Build build
        RunWrapper(Build b) { build = b }

        String getResult() { build.result?.toString() }

        /** Like RunWrapper.setResult -> Run.setResult: Result.fromString (unknown names become FAILURE), worsen only. */
        void setResult(Object value) {
            String r = value == null ? null : value.toString()
            Result parsed = Result.parseOrNull(r)
            if (parsed == null) build.warn("WARNING (pipeline stand-in): '${r}' is not a Jenkins result name; Jenkins' Result.fromString turns it into FAILURE")
            build.worsen(Result.fromString(r))
        }

        String getCurrentResult() { build.currentResult().toString() }
        boolean resultIsBetterOrEqualTo(String r) { build.currentResult().isBetterOrEqualTo(Result.fromString(r)) }
        boolean resultIsWorseOrEqualTo(String r) { build.currentResult().isWorseOrEqualTo(Result.fromString(r)) }
        String getDescription() { build.description }
        void setDescription(String d) { build.description = d }
        String getDisplayName() { build.displayName ?: "#${getNumber()}".toString() }
        void setDisplayName(String d) { build.displayName = d }
        String getFullDisplayName() { "${build.globalEnv.JOB_NAME ?: 'job'} ${getDisplayName()}".toString() }
        String getProjectName() { (build.globalEnv.JOB_BASE_NAME ?: (build.globalEnv.JOB_NAME ?: 'job').tokenize('/')[-1]) }
        String getFullProjectName() { build.globalEnv.JOB_NAME ?: 'job' }
        int getNumber() { (build.globalEnv.BUILD_NUMBER ?: '1') as int }
        String getId() { String.valueOf(getNumber()) }
        String getAbsoluteUrl() { build.globalEnv.BUILD_URL }
        long getStartTimeInMillis() { build.startTime }
        long getTimeInMillis() { build.startTime }
        long getDuration() { System.currentTimeMillis() - build.startTime }
        String getDurationString() { "${timeSpan(getDuration())} and counting".toString() }
        Map<String, String> getBuildVariables() { build.params.collectEntries { k, v -> [k, String.valueOf(v)] } }
        List getChangeSets() { [] }
        /**
         * Like RunWrapper.getBuildCauses: the causes of the build as maps (`_class`, `shortDescription`, and the
         * cause's fields, e.g. `userId` and `userName` of hudson.model.Cause$UserIdCause), from spec.causes.
         */
        List getBuildCauses() { (build.spec.causes ?: []).collect { Map c -> new LinkedHashMap(c) } }
        List getBuildCauses(String className) { getBuildCauses().findAll { Map c -> c._class == className } }
        boolean isKeepLog() { false }
        void setKeepLog(boolean b) { }
        Object getPreviousBuild() {
            if (build.previousResult == null) return null
            return [result: build.previousResult.toString(), currentResult: build.previousResult.toString(), number: getNumber() - 1]
        }
        Object getRawBuild() {
            throw new UnsupportedOperationException('currentBuild.rawBuild is not emulated by the pipeline stand-in (and needs script approval in Jenkins)')
        }
        String toString() { "currentBuild ${getFullDisplayName()}" }
    }
}

import hudson.model.Result
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Runs a parsed declarative pipeline, following pipeline-model-definition's ModelInterpreter:
 *  - the whole build (stages and post) runs inside: agent -> environment -> options wrappers (timeout);
 *  - stages run in order; the first error is remembered, and every later stage is skipped
 *    ("Stage "X" skipped due to earlier failure(s)"); a stage whose `when` is false is skipped;
 *  - per stage: [when if beforeOptions] -> stage options (timeout, retry) -> [when if beforeInput]
 *    -> input -> [when if beforeAgent] -> agent -> when -> environment -> steps / nested stages / parallel
 *    -> stage post;
 *  - post conditions run in BuildCondition order, each checked against the result of that moment
 *    (run result combined with the error so far), and an error in one is reported and remembered.
 * The run result (currentBuild.result) stays null unless something sets it; an error only becomes
 * the build result at the end, as in Jenkins (post conditions see it through the combined result).
 */
class Interpreter {
    final Build b
    final Object script
    PipelineModel.Root root

    Interpreter(Build b, Object script) { this.b = b; this.script = script }

    Object runDeclarative(Closure body) {
        if (b.pipelineRan) throw new IllegalStateException('Only one pipeline { ... } block can be executed in a single run.')
        b.pipelineRan = true
        // Validation first: nothing runs if the pipeline is not valid.
        root = new PipelineModel.Parser(script).parse(body)
        b.options = root.options*.describe()
        b.parameterDefs = root.parameters*.toJson()
        resolveParams()
        // In Jenkins the job's parameters exist before the Jenkinsfile runs: parse again so that
        // `params.X` in stage names, when-conditions... sees the defaults too.
        if (root.parameters) root = new PipelineModel.Parser(script).parse(body)

        Throwable firstError = null
        boolean postBuildRun = false
        try {
            inAgent(root.agent) {
                withEnvironmentSection(root.environment) {
                    inWrappers(root.options) {
                        firstError = evaluateSequentialStages(root.stages, null, null, null)
                        try {
                            postBuildRun = true
                            executePostBuild(firstError)
                        } catch (Throwable e) {
                            if (firstError == null) firstError = e
                        }
                        if (firstError != null) throw firstError
                    }
                }
            }
        } catch (Throwable e) {
            if (firstError == null) firstError = e
        } finally {
            // An error before the stages (environment, credentials, ...) still runs post.
            if (!postBuildRun) {
                try {
                    executePostBuild(firstError)
                } catch (Throwable e) {
                    if (firstError == null) firstError = e
                }
            }
        }
        if (firstError != null) throw firstError
        return null
    }

    /** Parameters: the spec's values, the pipeline's defaults for the rest, typed like Jenkins' parameter values. */
    private void resolveParams() {
        Map given = (Map) (b.spec.params ?: [:])
        Map<String, Object> values = new LinkedHashMap<String, Object>()
        root.parameters.each { PipelineModel.ParamDef d ->
            Object v = given.containsKey(d.name) ? given[d.name] : d.defaultValue
            switch (d.type) {
                case 'booleanParam':
                    v = v instanceof Boolean ? v : 'true'.equalsIgnoreCase(String.valueOf(v))
                    break
                case 'choice':
                    v = String.valueOf(v)
                    if (!(v in d.choices)) throw new IllegalArgumentException("Illegal choice for parameter ${d.name}: ${v} (choices: ${d.choices})")
                    break
                default:
                    v = v == null ? '' : String.valueOf(v)
                    if (d.trim) v = ((String) v).trim()
            }
            values[d.name] = v
        }
        given.keySet().findAll { !values.containsKey(it) }.each { k ->
            // Jenkins (SECURITY-170) drops parameters the job does not define.
            b.warn("Skipped parameter `${k}` as it is undefined on the pipeline (not a declared parameter)")
        }
        b.setParams(values)
    }

    // ------------------------------------------------------------------ wrappers

    /**
     * `agent`: the whole build runs inside the root agent, so a stage's own `agent none` keeps the
     * enclosing node; only `agent none` at the top leaves steps without a workspace.
     */
    private Object inAgent(PipelineModel.AgentDef agent, Closure body) {
        if (agent == null) return body.call()
        if (!agent.providesNode()) return agent.is(root.agent) ? b.withCtx({ Build.Ctx c -> c.hasNode = false }, body) : body.call()
        b.pipelineMarker('node')
        b.log("Running on ${agent.type == 'label' ? "an agent labelled '${agent.label}' (stand-in: this machine)" : 'the stand-in agent'} in ${b.workspace.path}")
        b.pipelineMarker('{')
        try {
            return b.withCtx({ Build.Ctx c -> c.hasNode = true; c.cwd = b.workspace }, body)
        } finally {
            b.pipelineMarker('}')
            b.pipelineMarker('// node')
        }
    }

    /** `environment {}`: credentials('id') bindings and variables, visible to everything inside. */
    private Object withEnvironmentSection(Closure envClosure, Closure body) {
        if (envClosure == null) return body.call()
        Map<String, String> layer = new LinkedHashMap<String, String>()
        return b.withCtx({ Build.Ctx c -> c.envLayers << layer }) {
            List<String> boundSecrets = []
            EnvBuilder.run(script, envClosure) { String name, Object value ->
                if (value instanceof PipelineModel.CredentialRef) {
                    Map<String, String> vars = b.steps.credentialEnvVars(name, ((PipelineModel.CredentialRef) value).id)
                    layer.putAll(vars)
                    vars.each { k, v -> b.ctx().secrets << [variable: k, value: v] }
                    boundSecrets.addAll(vars.keySet())
                } else {
                    layer[name] = (String) value
                }
            }
            b.pipelineMarker('withEnv')
            b.pipelineMarker('{')
            try {
                return body.call()
            } finally {
                b.pipelineMarker('}')
                b.pipelineMarker('// withEnv')
            }
        }
    }

    /** Options that wrap the body: timeout (and retry for stages). */
    private Object inWrappers(List<PipelineModel.OptionDef> options, Closure body) {
        PipelineModel.OptionDef timeout = options.find { it.name == 'timeout' }
        PipelineModel.OptionDef retry = options.find { it.name == 'retry' }
        Closure inner = body
        if (retry != null) {
            int count = (retry.positional ?: retry.args.count) as int
            Closure wrapped = inner
            inner = { b.steps.retryBlock(count, wrapped) }
        }
        if (timeout != null) {
            Closure wrapped = inner
            inner = { b.steps.timeoutBlock(timeout.args, wrapped) }
        }
        return inner.call()
    }

    // ------------------------------------------------------------------ stages

    private Throwable evaluateSequentialStages(List<PipelineModel.StageDef> stages, Throwable firstError,
                                               PipelineModel.StageDef parent, String skippedReason) {
        try {
            stages.each { PipelineModel.StageDef s ->
                Throwable e = evaluateStage(s, firstError, parent, skippedReason)
                if (e != null && firstError == null) firstError = e
            }
        } finally {
            // post of a stage with nested sequential stages runs after them
            if (skippedReason == null && parent?.post != null) {
                Map parentRec = b.ctx().stageRecord
                firstError = runPostConditions(parent.post, firstError, parentRec)
            }
        }
        return firstError
    }

    /** Runs (or skips) one stage; returns the first error so far (the one passed in, or this stage's). */
    private Throwable evaluateStage(PipelineModel.StageDef stage, Throwable firstError, PipelineModel.StageDef parent, String skippedReason) {
        Map rec = [name: stage.name, status: 'SUCCESS', durationMs: 0L, skipReason: null, parent: parent?.name,
                   startedAt: System.currentTimeMillis(), postRan: [], warning: null]
        b.stageRecords << rec
        b.pipelineMarker('stage')
        b.pipelineMarker("{ (${stage.name})")
        Throwable ownError = null
        b.withCtx({ Build.Ctx c -> c.stage = stage.name; c.stageRecord = rec }) {
            try {
                if (skippedReason != null) {
                    skipStage(stage, rec, skippedReason)
                } else if (firstError != null) {
                    skipStage(stage, rec, 'earlier failure')
                } else if (root.option('skipStagesAfterUnstable') != null && b.result == Result.UNSTABLE) {
                    skipStage(stage, rec, 'unstable')
                } else {
                    runStage(stage, rec)
                }
            } catch (Throwable e) {
                ownError = e
            }
        }
        rec.durationMs = System.currentTimeMillis() - (long) rec.startedAt
        if (rec.status != 'SKIPPED') {
            Result r = ownError != null ? Build.resultOf(ownError) : (Result) (rec.warning ?: Result.SUCCESS)
            rec.status = statusOf(r)
            // a warning (unstable, junit failures, catchError stageResult) also marks the enclosing stages
            Map parentRec = b.ctx().stageRecord
            if (parentRec != null && rec.warning != null) {
                synchronized (parentRec) { parentRec.warning = ((Result) rec.warning).combine((Result) parentRec.warning) }
            }
        }
        b.pipelineMarker('}')
        b.pipelineMarker('// stage')
        return firstError ?: ownError
    }

    static String statusOf(Result r) {
        switch (r) {
            case Result.SUCCESS: return 'SUCCESS'
            case Result.UNSTABLE: return 'UNSTABLE'
            case Result.FAILURE: return 'FAILED'
            case Result.NOT_BUILT: return 'NOT_BUILT'
            default: return 'ABORTED'
        }
    }

    private void runStage(PipelineModel.StageDef stage, Map rec) {
        boolean passed = stage.when == null
        Closure whenNow = { -> if (!passed) passed = evaluateWhen(stage); passed }

        if (stage.beforeOptions && !whenNow()) { skipStage(stage, rec, 'when'); return }
        inWrappers(stage.options) {
            if (stage.beforeInput && !whenNow()) return
            stageInput(stage.input) {
                if (stage.beforeAgent && !whenNow()) return
                inAgent(stage.agent) {
                    if (!whenNow()) return
                    withEnvironmentSection(stage.environment) {
                        if (stage.parallel != null) {
                            runParallel(stage)
                        } else if (stage.stages != null) {
                            Throwable nested = evaluateSequentialStages(stage.stages, null, stage, null)
                            if (nested != null) throw nested
                        } else {
                            executeSingleStage(stage, rec)
                        }
                    }
                }
            }
        }
        if (!passed) skipStage(stage, rec, 'when')
    }

    private void skipStage(PipelineModel.StageDef stage, Map rec, String reason) {
        String message
        switch (reason) {
            case 'when': message = "Stage \"${stage.name}\" skipped due to when conditional"; break
            case 'unstable': message = "Stage \"${stage.name}\" skipped due to earlier stage(s) marking the build as unstable"; break
            default: message = "Stage \"${stage.name}\" skipped due to earlier failure(s)"
        }
        b.log(message)
        rec.status = 'SKIPPED'
        rec.skipReason = reason
        // children of a skipped stage are skipped for the same reason
        List<PipelineModel.StageDef> children = stage.stages ?: stage.parallel
        children?.each { PipelineModel.StageDef child -> evaluateStage(child, null, stage, reason) }
    }

    private void executeSingleStage(PipelineModel.StageDef stage, Map rec) {
        Throwable stageError = null
        try {
            runSteps(stage.steps)
        } catch (Throwable e) {
            stageError = e
        } finally {
            if (stage.post != null) {
                if (hasSatisfiedConditions(stage.post, stageError, rec)) b.log('Post stage')
                stageError = runPostConditions(stage.post, stageError, rec)
            }
        }
        if (stageError != null) throw stageError
    }

    /** A steps/post/script closure runs with the script as delegate (DELEGATE_FIRST), like ModelInterpreter.delegateAndExecute. */
    private Object runSteps(Closure c) {
        Closure cl = (Closure) c.clone()
        cl.delegate = script
        cl.resolveStrategy = Closure.DELEGATE_FIRST
        return cl.call()
    }

    /** Stage-level `input {}` directive: asks, then exposes the answers as environment variables. */
    private Object stageInput(PipelineModel.InputDef input, Closure body) {
        if (input == null) return body.call()
        Map args = [message: input.message]
        if (input.id) args.id = input.id
        if (input.ok) args.ok = input.ok
        if (input.submitter) args.submitter = input.submitter
        if (input.submitterParameter) args.submitterParameter = input.submitterParameter
        if (input.parameters) args.parameters = input.parameters
        Object answer = b.steps.invokeStep('input', [args] as Object[])
        Map<String, String> vars = [:]
        if (answer instanceof Map) ((Map) answer).each { k, v -> vars[String.valueOf(k)] = String.valueOf(v) }
        else if (input.submitterParameter) vars[input.submitterParameter] = String.valueOf(answer)
        else if (input.parameters.size() == 1) vars[input.parameters[0].name] = String.valueOf(answer)
        if (vars.isEmpty()) return body.call()
        return b.withCtx({ Build.Ctx c -> c.envLayers << vars }, body)
    }

    // ------------------------------------------------------------------ when

    private boolean evaluateWhen(PipelineModel.StageDef stage) {
        PipelineModel.Parser p = new PipelineModel.Parser(script)
        PipelineModel.WhenDef w = WhenBuilder.parse(p, stage.when, true)
        if (p.errors) throw new PipelineModel.ValidationException(p.errors)
        return w.conds.every { evalCond(it) }
    }

    private boolean evalCond(PipelineModel.Cond c) {
        switch (c.type) {
            case 'expression': return runSteps(c.expression) as boolean
            case 'not': return !evalCond(c.children[0])
            case 'allOf': return c.children.every { evalCond(it) }
            case 'anyOf': return c.children.any { evalCond(it) }
            case 'environment':
                String actual = b.envGet(String.valueOf(c.args.name))
                String expected = String.valueOf(c.args.value)
                return c.args.ignoreCase ? expected.equalsIgnoreCase(actual) : expected == actual
            case 'equals':
                return c.args.expected == c.args.actual
            case 'branch':
                String branch = b.envGet('BRANCH_NAME')
                if (branch == null) return false
                String pattern = String.valueOf(c.args.pattern)
                switch (c.args.comparator ?: 'GLOB') {
                    case 'EQUALS': return pattern == branch
                    case 'REGEXP': return branch ==~ pattern
                    default: return Reports.antMatch(pattern, branch)
                }
        }
        throw new IllegalStateException("unknown when condition ${c.type}")
    }

    // ------------------------------------------------------------------ parallel

    private void runParallel(PipelineModel.StageDef stage) {
        boolean failFast = stage.failFast || root.option('parallelsAlwaysFailFast') != null
        Map<String, Closure> branches = new LinkedHashMap<String, Closure>()
        stage.parallel.each { PipelineModel.StageDef branch ->
            branches[branch.name] = { ->
                Throwable e = evaluateStage(branch, null, stage, null)
                if (e != null) throw e
            }
        }
        Throwable err = null
        try {
            b.steps.runParallel(branches, failFast)
        } catch (Throwable e) {
            err = e
        } finally {
            if (stage.post != null) err = runPostConditions(stage.post, err, b.ctx().stageRecord)
        }
        if (err != null) throw err
    }

    // ------------------------------------------------------------------ post

    private void executePostBuild(Throwable stageError) {
        if (root.post != null && hasSatisfiedConditions(root.post, stageError, null)) {
            b.pipelineMarker('stage')
            b.pipelineMarker('{ (Declarative: Post Actions)')
            try {
                b.withCtx({ Build.Ctx c -> c.stage = 'Declarative: Post Actions'; c.stageRecord = null; c.inPost = true }) {
                    stageError = runPostConditions(root.post, stageError, null)
                }
            } finally {
                b.pipelineMarker('}')
                b.pipelineMarker('// stage')
            }
        }
        if (stageError != null) throw stageError
    }

    /** BuildCondition.getCombinedResult: worst of run result and the error's result (or the stage's warnings). */
    private Result combinedResult(Throwable error, Map stageRec, boolean useStageContext) {
        Result errorResult = Result.SUCCESS
        if (useStageContext && stageRec?.warning != null) errorResult = (Result) stageRec.warning
        if (error != null) errorResult = Build.resultOf(error)
        return b.currentResult().combine(errorResult)
    }

    private boolean meetsCondition(String cond, Throwable error, Map stageRec) {
        Result r = combinedResult(error, stageRec, true)
        Result noCtx = combinedResult(error, stageRec, false)
        Result prev = b.previousResult
        switch (cond) {
            case 'always': case 'cleanup': return true
            case 'changed': return prev == null || noCtx != prev
            case 'fixed': return prev != null && noCtx == Result.SUCCESS && (prev == Result.FAILURE || prev == Result.UNSTABLE)
            case 'regression': return prev != null && noCtx.isWorseThan(prev)
            case 'aborted': return r == Result.ABORTED
            case 'success': return r == Result.SUCCESS
            case 'unsuccessful': return r != Result.SUCCESS
            case 'unstable': return r == Result.UNSTABLE
            case 'failure': return r == Result.FAILURE
            case 'notBuilt': return r == Result.NOT_BUILT
        }
        return false
    }

    private boolean hasSatisfiedConditions(PipelineModel.PostDef post, Throwable error, Map stageRec) {
        post.conditions.keySet().any { meetsCondition(it, error, stageRec) }
    }

    /** ModelInterpreter.runPostConditions; returns the first error (the one passed in, or one raised here). */
    private Throwable runPostConditions(PipelineModel.PostDef post, Throwable stageError, Map stageRec) {
        PipelineModel.POST_CONDITIONS.each { String cond ->
            if (!post.has(cond)) return
            Result originalResult = b.result
            Result logicalResult = combinedResult(stageError, stageRec, true)
            try {
                if (meetsCondition(cond, stageError, stageRec)) {
                    // Jenkins sets the run result to the logical result while the condition runs,
                    // so currentBuild.result inside `failure {}` reads FAILURE.
                    b.result = logicalResult
                    if (stageRec != null) ((List) stageRec.postRan) << cond else b.postRan << cond
                    b.withCtx({ Build.Ctx c -> c.inPost = true }) { runSteps(post.conditions[cond]) }
                }
            } catch (Throwable e) {
                b.log("Error when executing ${cond} post condition:")
                b.printError(e)
                if (stageError == null) stageError = e
            } finally {
                if (b.currentResult() == logicalResult && logicalResult != originalResult) b.result = originalResult
            }
        }
        return stageError
    }
}

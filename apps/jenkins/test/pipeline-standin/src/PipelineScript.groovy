/**
 * Base class of the Jenkinsfile and of every library var script (like Jenkins' CpsScript).
 *
 * Name resolution follows CpsScript:
 *  - method calls: methods of the script itself, then a Closure in the Binding, then a global var
 *    of a loaded library (its `call` method), then a pipeline step; otherwise
 *    java.lang.NoSuchMethodError "No such DSL method ..." as in Jenkins;
 *  - properties: the Binding, then the globals `env`, `params`, `currentBuild`, then library
 *    vars (`relDeploy.helper()`), then build parameters, then environment variables.
 */
abstract class PipelineScript extends Script {

    PipelineScript() { super() }
    PipelineScript(Binding b) { super(b) }

    /** `pipeline { ... }`: parse the declarative model, validate it, run it. */
    def pipeline(Closure body) {
        return new Interpreter(Build.current, this).runDeclarative(body)
    }

    // Groovy's own Object.sleep/println/print would shadow these; CpsScript routes them to the
    // `sleep` step and to the build log, and so does the stand-in.
    def sleep(long time) { Build.current.steps.invokeStep('sleep', [time] as Object[]) }
    def sleep(Map args) { Build.current.steps.invokeStep('sleep', [args] as Object[]) }
    void println(Object value) { Build.current.steps.invokeStep('echo', [String.valueOf(value)] as Object[]) }
    void println() { println('') }
    void print(Object value) { Build.current.steps.invokeStep('echo', [String.valueOf(value)] as Object[]) }
    void printf(String format, Object[] values) { print(String.format(format, values)) }

    def methodMissing(String name, Object args) {
        return Build.current.steps.invokeGlobal(this, name, (Object[]) args)
    }

    Object getProperty(String name) {
        try {
            return super.getProperty(name)
        } catch (MissingPropertyException e) {
            if (e.property != name) throw e
            Build b = Build.current
            switch (name) {
                case 'env': return b.env
                case 'params': return b.params
                case 'currentBuild': return b.currentBuild
            }
            if (b.globalVars.containsKey(name)) return b.globalVars[name]
            if (b.params.containsKey(name)) return b.params[name]
            String v = b.envGet(name)
            if (v != null) return v
            throw e
        }
    }
}

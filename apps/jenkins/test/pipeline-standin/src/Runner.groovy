import groovy.json.JsonSlurper
import hudson.AbortException
import org.codehaus.groovy.control.CompilerConfiguration

/**
 * The runner: reads the spec, loads the libraries named by @Library, compiles the Jenkinsfile
 * (as class WorkflowScript, base class PipelineScript), runs it, and writes the result file.
 */
class Runner {
    static int run(String[] args) {
        String specPath = null
        boolean quiet = false
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case '--spec': specPath = i + 1 < args.length ? args[++i] : null; break
                case '--quiet': quiet = true; break
                default:
                    System.err.println("run-pipeline: unknown argument ${args[i]}")
                    return 2
            }
        }
        if (!specPath) {
            System.err.println('usage: groovy -cp <pipeline-standin> run-pipeline.groovy --spec build.json [--quiet]')
            return 2
        }

        Build b
        try {
            Map spec = (Map) new JsonSlurper().parse(new File(specPath))
            if (!spec.pipeline) throw new IllegalArgumentException('spec: "pipeline" is required')
            b = new Build(spec, !quiet)
        } catch (Exception e) {
            System.err.println("run-pipeline: bad spec ${specPath}: ${e.message}")
            return 2
        }
        Build.current = b
        b.steps = new Steps(b)

        try {
            List causes = (b.spec.causes ?: []) as List
            if (causes) causes.each { Map c -> b.log(String.valueOf(c.shortDescription ?: "Started by ${c._class}")) }
            else b.log('Started by pipeline stand-in')
            File pipelineFile = new File(String.valueOf(b.spec.pipeline))
            String source = pipelineFile.getText('UTF-8')

            // The Jenkinsfile and the vars compile with PipelineScript as base class (steps, env, params,
            // currentBuild, library vars) and the compile-time checks of Jenkins' declarative parser.
            // Jenkins-named classes (Library, hudson.model.Result, FlowInterruptedException...) come
            // from the stand-in's own class loader.
            CompilerConfiguration cc = new CompilerConfiguration()
            cc.scriptBaseClass = 'PipelineScript'
            cc.addCompilationCustomizers(new PipelineModel.StepsBlockCheck(), new PipelineModel.ShadowedStepCalls())
            GroovyClassLoader gcl = new GroovyClassLoader(Runner.classLoader, cc)

            // @Library('rel') _ : load <dir>/vars/*.groovy as global vars (and <dir>/src on the classpath).
            List<String> libs = PipelineModel.collectLibraries(source)
            Map libraries = (Map) (b.spec.libraries ?: [:])
            List<String> missing = libs.findAll { !libraries[it] }
            if (missing) throw new AbortException("Could not find any definition of libraries ${missing}")
            libs.each { String name ->
                File dir = new File(String.valueOf(libraries[name]))
                b.log("Loading library ${name}@stand-in (from ${dir.path})")
                if (new File(dir, 'src').isDirectory()) gcl.addClasspath(new File(dir, 'src').path)
                b.steps.libraryDirs << dir
                File vars = new File(dir, 'vars')
                (vars.listFiles() ?: new File[0]).findAll { it.isFile() && it.name.endsWith('.groovy') }.sort { it.name }.each { File f ->
                    String var = f.name - ~/\.groovy$/
                    Class cls = gcl.parseClass(f)
                    Script instance = (Script) cls.newInstance()
                    instance.binding = new Binding()
                    b.globalVars[var] = instance
                }
            }

            Class jenkinsfile = gcl.parseClass(new GroovyCodeSource(source, PipelineModel.SCRIPT_NAME, '/groovy/shell'))
            Script script = (Script) jenkinsfile.newInstance()
            script.binding = new Binding()
            b.script = script
            b.pipelineMarker('Start of Pipeline')
            script.run()
            if (!b.pipelineRan) throw new IllegalStateException('No pipeline { ... } block was run: the stand-in emulates declarative pipelines only')
        } catch (Throwable t) {
            b.fail(t)
        } finally {
            try {
                b.finish()
            } catch (Throwable t) {
                System.err.println("run-pipeline: could not finish: ${t}")
                t.printStackTrace()
                return 2
            }
        }
        return 0
    }
}

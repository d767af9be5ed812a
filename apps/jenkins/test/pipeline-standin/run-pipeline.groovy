/*
 * Runs a Jenkins declarative pipeline file against the pipeline stand-in.
 *
 *   groovy -cp apps/jenkins/test/pipeline-standin apps/jenkins/test/pipeline-standin/run-pipeline.groovy \
 *       --spec build.json [--quiet]
 *
 * The stand-in's sources live in src/. They are compiled here as one compilation unit (Groovy's
 * on-demand compilation from the classpath cannot resolve nested classes across files) and the
 * class files are cached under ${java.io.tmpdir}/pipeline-standin-<hash of the sources>, so
 * later runs start faster. Then Runner.run(args) does the work (see src/Runner.groovy, README.md).
 */
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.tools.GroovyClass

import java.security.MessageDigest

// src/ is next to this script (its code source is the script file itself under `groovy script.groovy`).
File self = new File(getClass().protectionDomain.codeSource.location.toURI())
File srcDir = new File(self.parentFile, 'src')
if (!new File(srcDir, 'Runner.groovy').isFile()) {
    System.err.println("run-pipeline: cannot find the stand-in sources in ${srcDir}")
    System.exit(2)
}

List<File> sources = []
srcDir.eachFileRecurse { File f -> if (f.isFile() && f.name.endsWith('.groovy')) sources << f }
sources.sort { it.path }

MessageDigest sha = MessageDigest.getInstance('SHA-1')
sha.update(GroovySystem.version.bytes)
sources.each { File f -> sha.update(srcDir.toPath().relativize(f.toPath()).toString().bytes); sha.update(f.bytes) }
String hash = sha.digest().encodeHex().toString().substring(0, 16)
File cache = new File(System.getProperty('java.io.tmpdir'), "pipeline-standin-${hash}")

if (!new File(cache, 'Runner.class').isFile()) {
    CompilerConfiguration cfg = new CompilerConfiguration()
    File tmp = new File(cache.path + '.' + UUID.randomUUID().toString().substring(0, 8))
    cfg.targetDirectory = tmp
    CompilationUnit cu = new CompilationUnit(cfg, null, new GroovyClassLoader(this.class.classLoader))
    sources.each { cu.addSource(it) }
    cu.compile(Phases.OUTPUT)
    if (!tmp.renameTo(cache)) tmp.deleteDir()       // another run cached it meanwhile
}

URLClassLoader loader = new URLClassLoader([cache.toURI().toURL()] as URL[], this.class.classLoader)
int rc = (int) loader.loadClass('Runner').getMethod('run', String[]).invoke(null, [args] as Object[])
System.exit(rc)

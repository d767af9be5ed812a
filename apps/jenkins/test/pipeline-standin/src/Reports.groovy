import hudson.AbortException
import org.xml.sax.SAXException

/**
 * File patterns (Ant style, as Jenkins' FileSet) and the JUnit report reader.
 */
class Reports {

    /** Ant's default excludes that matter in a workspace (Jenkins applies them to archiveArtifacts and junit). */
    static final List<String> DEFAULT_EXCLUDES = ['**/*~', '**/#*#', '**/.#*', '**/%*%', '**/._*', '**/CVS', '**/CVS/**',
                                                  '**/.cvsignore', '**/.svn', '**/.svn/**', '**/.DS_Store', '**/.git', '**/.git/**',
                                                  '**/.gitattributes', '**/.gitignore', '**/.gitmodules', '**/.hg', '**/.hg/**',
                                                  '**/.bzr', '**/.bzr/**'].asImmutable()

    /** Comma-separated list of Ant patterns, as Jenkins splits `artifacts` / `testResults`. */
    static List<String> splitPatterns(String list) {
        (list ?: '').split(',')*.trim().findAll { it }
    }

    static String normalize(String pattern) {
        String p = pattern.replace('\\', '/')
        if (p.endsWith('/')) p += '**'              // Ant: "dir/" means "dir/**"
        while (p.startsWith('./')) p = p.substring(2)
        return p
    }

    /** Does the relative path match the Ant pattern (`**` any number of directories, `*` and `?` within one)? */
    static boolean antMatch(String pattern, String path) {
        List<String> pat = normalize(pattern).split('/').findAll { it != '' } as List<String>
        List<String> segs = path.replace('\\', '/').split('/').findAll { it != '' } as List<String>
        return matchSegments(pat, 0, segs, 0)
    }

    private static boolean matchSegments(List<String> pat, int pi, List<String> segs, int si) {
        if (pi == pat.size()) return si == segs.size()
        if (pat[pi] == '**') {
            for (int k = si; k <= segs.size(); k++) {
                if (matchSegments(pat, pi + 1, segs, k)) return true
            }
            return false
        }
        if (si == segs.size()) return false
        return matchSegment(pat[pi], segs[si]) && matchSegments(pat, pi + 1, segs, si + 1)
    }

    static boolean matchSegment(String pattern, String name) {
        StringBuilder re = new StringBuilder()
        pattern.each { String ch ->
            if (ch == '*') re.append('[^/]*')
            else if (ch == '?') re.append('[^/]')
            else re.append(java.util.regex.Pattern.quote(ch))
        }
        return name ==~ re.toString()
    }

    /**
     * Files under `base` matching any include and no exclude, as sorted relative paths.
     * Each pattern is walked only from its literal prefix (so a pattern does not scan node_modules for nothing).
     */
    static List<String> glob(File base, List<String> includes, List<String> excludes, boolean defaultExcludes) {
        List<String> allExcludes = new ArrayList<String>(excludes)
        if (defaultExcludes) allExcludes.addAll(DEFAULT_EXCLUDES)
        Set<String> found = new TreeSet<String>()
        includes.each { String raw ->
            String inc = normalize(raw)
            List<String> segs = inc.split('/').findAll { it != '' } as List<String>
            List<String> literal = []
            for (String s : segs) {
                if (s.contains('*') || s.contains('?')) break
                literal << s
            }
            File start = literal ? new File(base, literal.join('/')) : base
            if (!start.exists()) return
            if (start.isFile()) {
                String rel = literal.join('/')
                if (antMatch(inc, rel)) found << rel
                return
            }
            String prefix = literal ? literal.join('/') + '/' : ''
            start.eachFileRecurse { File f ->
                if (!f.isFile()) return
                String rel = prefix + start.toPath().relativize(f.toPath()).toString().replace('\\', '/')
                if (antMatch(inc, rel)) found << rel
            }
        }
        return found.findAll { String rel -> !allExcludes.any { antMatch(it, rel) } } as List<String>
    }

    // ------------------------------------------------------------------ JUnit

    /**
     * Read one JUnit XML report (the Ant JUnit format: root <testsuites> or <testsuite>, <testcase
     * classname= name= time=> with <failure>/<error>/<skipped> children) with a real XML parser.
     * A file that is not well-formed, has another root, a testcase without name, or a non-numeric
     * time is rejected (AbortException): the stand-in is stricter than the JUnit plugin here.
     */
    static Map parseJunit(File f, String rel) {
        def root
        try {
            XmlSlurper slurper = new XmlSlurper(false, false)
            slurper.errorHandler = new org.xml.sax.helpers.DefaultHandler() {
                void fatalError(org.xml.sax.SAXParseException e) { throw e }     // no "[Fatal Error]" on stderr
            }
            root = slurper.parse(f)
        } catch (SAXException e) {
            throw new AbortException("Failed to read test report file ${f.path}\n${e.message}".toString())
        }
        String rootName = root.name()
        List suites
        if (rootName == 'testsuites') suites = allSuites(root.testsuite.list())
        else if (rootName == 'testsuite') suites = allSuites([root])
        else throw new AbortException("Failed to read test report file ${f.path}\nNot a JUnit report: the root element is <${rootName}>, expected <testsuites> or <testsuite>".toString())

        List<Map> cases = []
        suites.each { suite ->
            String suiteName = suite.@name.text()
            suite.testcase.list().each { tc ->
                String name = tc.@name.text()
                if (!tc.attributes().containsKey('name')) {
                    throw new AbortException("Failed to read test report file ${f.path}\nA <testcase> in suite \"${suiteName}\" has no name attribute".toString())
                }
                Double time = null
                if (tc.attributes().containsKey('time')) {
                    String t = tc.@time.text().trim()
                    try {
                        time = Double.parseDouble(t.replace(',', ''))
                    } catch (NumberFormatException e) {
                        throw new AbortException("Failed to read test report file ${f.path}\nTestcase \"${name}\" has time=\"${t}\", which is not a number of seconds".toString())
                    }
                }
                Map c = [classname: tc.attributes().containsKey('classname') ? tc.@classname.text() : suiteName, name: name, time: time,
                         status: 'passed', message: null, text: null]
                def failure = tc.failure.list() ? tc.failure[0] : null
                def error = tc.error.list() ? tc.error[0] : null
                def problem = failure ?: error
                if (problem != null) {
                    c.status = 'failed'
                    c.kind = failure != null ? 'failure' : 'error'
                    c.message = problem.@message.text() ?: null
                    c.type = problem.@type.text() ?: null
                    c.text = problem.text() ?: null
                } else if (tc.skipped.list()) {
                    c.status = 'skipped'
                    c.message = tc.skipped[0].@message.text() ?: null
                    c.text = tc.skipped[0].text() ?: null
                }
                cases << c
            }
        }
        return [file    : rel,
                tests   : cases.size(),
                failures: cases.count { it.kind == 'failure' },
                errors  : cases.count { it.kind == 'error' },
                skipped : cases.count { it.status == 'skipped' },
                cases   : cases]
    }

    /** A <testsuite> may nest further <testsuite>s (JUnit plugin reads them all). */
    private static List allSuites(List suites) {
        List out = []
        suites.each { s ->
            out << s
            out.addAll(allSuites(s.testsuite.list()))
        }
        return out
    }
}

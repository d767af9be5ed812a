import org.codehaus.groovy.ast.AnnotatedNode
import org.codehaus.groovy.ast.AnnotationNode
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.FieldNode
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.ImportNode
import org.codehaus.groovy.ast.ModuleNode
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.DeclarationExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.ListExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.NamedArgumentListExpression
import org.codehaus.groovy.ast.expr.TupleExpression
import org.codehaus.groovy.ast.stmt.BlockStatement
import org.codehaus.groovy.ast.stmt.ExpressionStatement
import org.codehaus.groovy.ast.stmt.Statement
import org.codehaus.groovy.classgen.GeneratorContext
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilePhase
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.customizers.CompilationCustomizer
import org.codehaus.groovy.control.messages.SyntaxErrorMessage
import org.codehaus.groovy.syntax.SyntaxException

import java.util.concurrent.TimeUnit

/**
 * The declarative structure of a Jenkinsfile: what is inside `pipeline { ... }`.
 *
 * Jenkins parses the declarative syntax from the Groovy syntax tree and validates it before
 * anything runs. The stand-in does the same in two passes:
 *  1. at compile time (StepsBlockCheck), the rules that only the syntax tree shows: a `steps {}`
 *     or post-condition block may only contain step calls ("Expected a step"), not declarations,
 *     assignments, `if`, or method calls on objects (those belong in `script {}`);
 *  2. when `pipeline { }` is called, its closure is evaluated against builder objects (Parser and
 *     the *Builder classes below) which record the sections and collect every unknown section,
 *     option, parameter type, when-condition or post-condition as an error. If there is any error,
 *     the build fails before a single stage runs (like Jenkins' "startup failed").
 * Closures holding user code (steps, expression, environment, post conditions) are stored, not
 * run; the Interpreter runs them later.
 */
class PipelineModel {

    /** Jenkins runs post conditions in the order of their @Extension ordinal (pipeline-model-definition's BuildCondition): */
    static final List<String> POST_CONDITIONS = ['always', 'changed', 'fixed', 'regression', 'aborted', 'success',
                                                 'unsuccessful', 'unstable', 'failure', 'notBuilt', 'cleanup'].asImmutable()

    static final String SCRIPT_NAME = 'WorkflowScript'

    // ---------------------------------------------------------------- model

    static class Root {
        AgentDef agent
        List<OptionDef> options = []
        List<ParamDef> parameters = []
        List<String> triggers = []
        Closure environment
        List<StageDef> stages = []
        PostDef post

        OptionDef option(String name) { options.find { it.name == name } }
    }

    static class AgentDef {
        String type          // any | none | label
        String label
        boolean providesNode() { type != 'none' }
        String toString() { type == 'label' ? "label '${label}'" : type }
    }

    static class OptionDef {
        String name
        Map args = [:]
        Object positional
        OptionDef nested      // buildDiscarder(logRotator(...))

        /** How the option is listed in the result file, e.g. "timeout 60 MINUTES", "disableConcurrentBuilds". */
        String describe() {
            if (name == 'timeout') return "timeout ${args.time} ${args.unit ?: 'MINUTES'}"
            List parts = []
            if (nested != null) parts << nested.describe()
            if (positional != null) parts << render(positional)
            args.each { k, v -> parts << "${k}: ${render(v)}" }
            return parts ? "${name}(${parts.join(', ')})" : name
        }

        private static String render(Object v) { v instanceof CharSequence ? "'${v}'" : String.valueOf(v) }
    }

    static class ParamDef {
        String type          // string | booleanParam | choice | text
        String name
        Object defaultValue
        String description
        List<String> choices
        boolean trim

        Map toJson() {
            Map m = [name: name, type: type, 'default': defaultValue, description: description]
            if (choices != null) m.choices = choices
            if (type == 'string' || type == 'text') m.trim = trim
            return m
        }
    }

    static class StageDef {
        String name
        int line
        StageDef parent
        AgentDef agent
        Closure when                 // raw closure; WhenBuilder re-evaluates it at run time, like Jenkins
        boolean beforeAgent, beforeInput, beforeOptions
        List<OptionDef> options = []
        Closure environment
        InputDef input
        Closure steps
        List<StageDef> stages
        List<StageDef> parallel
        boolean failFast
        PostDef post

        OptionDef option(String name) { options.find { it.name == name } }
    }

    static class InputDef {
        String message, id, ok, submitter, submitterParameter
        List<ParamDef> parameters = []
    }

    static class PostDef {
        Map<String, Closure> conditions = [:]
        boolean has(String c) { conditions.containsKey(c) }
    }

    /** `credentials('id')` on the right-hand side of an `environment {}` assignment. */
    static class CredentialRef {
        String id
        String toString() { "credentials('${id}')" }
    }

    /** One `when` condition. */
    static class Cond {
        String type             // expression | not | allOf | anyOf | environment | equals | branch
        Closure expression
        List<Cond> children = []
        Map args = [:]
    }

    static class WhenDef {
        List<Cond> conds = []
        boolean beforeAgent, beforeInput, beforeOptions
    }

    /** The declarative validation failed: like Jenkins' MultipleCompilationErrorsException "startup failed". */
    static class ValidationException extends RuntimeException {
        final List<String> errors
        ValidationException(List<String> errors) {
            super("startup failed:\n" + errors.join('\n') + "\n\n${errors.size()} error${errors.size() == 1 ? '' : 's'}")
            this.errors = errors
        }
    }

    // ---------------------------------------------------------------- parser (pass 2)

    static class Parser {
        final List<String> errors = []
        final Object script          // the Jenkinsfile script: reads of non-DSL names are forwarded to it

        Parser(Object script) { this.script = script }

        Root parse(Closure pipelineBody) {
            RootBuilder rb = new RootBuilder(this)
            eval(pipelineBody, rb)
            rb.finish()
            if (errors) throw new ValidationException(errors)
            return rb.root
        }

        void error(String msg) {
            int line = callerLine()
            errors << (line > 0 ? "${SCRIPT_NAME}: ${line}: ${msg} @ line ${line}.".toString() : "${SCRIPT_NAME}: ${msg}".toString())
        }

        static int callerLine() {
            for (StackTraceElement e : new Throwable().stackTrace) {
                if (e.fileName == SCRIPT_NAME && e.lineNumber > 0) return e.lineNumber
            }
            return -1
        }

        /** Evaluate a section closure against a builder; every call in it must be a known section. */
        static Object eval(Closure c, Object builder) {
            Closure cl = (Closure) c.clone()
            cl.delegate = builder
            cl.resolveStrategy = Closure.DELEGATE_ONLY
            return cl.call()
        }
    }

    // ---------------------------------------------------------------- compile-time checks (pass 1)

    /**
     * Compile-time rule of Jenkins' declarative parser: inside `steps {}` and inside post conditions,
     * every statement must be a step call (a method call on the implicit `this`); anything else must
     * be wrapped in `script {}`. Block steps (withEnv, timeout, dir, ...) are checked recursively.
     */
    static class StepsBlockCheck extends CompilationCustomizer {
        StepsBlockCheck() { super(CompilePhase.CONVERSION) }

        private static final List<String> STRUCTURAL = ['pipeline', 'stages', 'stage', 'parallel']

        void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
            if (!classNode.isScript()) return
            source.AST.statementBlock.statements.each { Statement st ->
                MethodCallExpression m = asCall(st)
                if (m != null && m.methodAsString == 'pipeline' && closureOf(m) != null) walk(source, closureOf(m), 'pipeline')
            }
        }

        private void walk(SourceUnit source, ClosureExpression c, String ctx) {
            statements(c).each { Statement st ->
                MethodCallExpression m = asCall(st)
                if (m == null) return
                String name = m.methodAsString
                ClosureExpression body = closureOf(m)
                if (body == null) return
                if (ctx == 'post') { checkSteps(source, body); return }
                if (name == 'steps') checkSteps(source, body)
                else if (name == 'post') walk(source, body, 'post')
                else if (name in STRUCTURAL) walk(source, body, name)
            }
        }

        private void checkSteps(SourceUnit source, ClosureExpression c) {
            statements(c).each { Statement st ->
                MethodCallExpression m = asCall(st)
                if (m == null) {
                    error(source, st, 'Expected a step')
                } else if (!m.isImplicitThis()) {
                    error(source, st, 'Method calls on objects not allowed outside "script" blocks.')
                } else if (m.methodAsString != 'script' && closureOf(m) != null) {
                    checkSteps(source, closureOf(m))
                }
            }
        }

        private static void error(SourceUnit source, Statement st, String msg) {
            source.errorCollector.addError(new SyntaxErrorMessage(
                    new SyntaxException(msg, st.lineNumber, st.columnNumber), source))
        }

        private static List<Statement> statements(ClosureExpression c) {
            Statement code = c.code
            return code instanceof BlockStatement ? ((BlockStatement) code).statements : [code]
        }

        private static MethodCallExpression asCall(Statement st) {
            if (st instanceof ExpressionStatement && ((ExpressionStatement) st).expression instanceof MethodCallExpression) {
                return (MethodCallExpression) ((ExpressionStatement) st).expression
            }
            return null
        }

        private static ClosureExpression closureOf(MethodCallExpression m) {
            Expression args = m.arguments
            if (args instanceof ArgumentListExpression) {
                List<Expression> list = ((ArgumentListExpression) args).expressions
                if (list && list[-1] instanceof ClosureExpression) return (ClosureExpression) list[-1]
            }
            return null
        }
    }

    /**
     * Inside closures, Groovy resolves `sleep 5`, `println x`, `print`, `printf` to the Closure
     * object's own GDK methods (Object.sleep...), never reaching the script. Jenkins routes them to
     * the `sleep` step and the build log; the stand-in makes such implicit-this calls explicit
     * `this.` calls, so they reach PipelineScript's overrides. Likewise the `equals` when-condition
     * (Closure.equals would answer it) is renamed to WhenBuilder.whenEquals.
     */
    static class ShadowedStepCalls extends CompilationCustomizer {
        static final Set<String> NAMES = ['sleep', 'println', 'print', 'printf'] as Set

        ShadowedStepCalls() { super(CompilePhase.CONVERSION) }

        void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
            CodeVisitorSupport visitor = new CodeVisitorSupport() {
                void visitMethodCallExpression(MethodCallExpression call) {
                    if (call.isImplicitThis() && call.methodAsString in NAMES) call.implicitThis = false
                    // `when { equals expected: x, actual: y }` would hit Closure.equals(Object)
                    if (call.isImplicitThis() && call.methodAsString == 'equals' && call.arguments instanceof TupleExpression &&
                            ((TupleExpression) call.arguments).expressions.any { it instanceof NamedArgumentListExpression }) {
                        call.method = new ConstantExpression('whenEquals')
                    }
                    super.visitMethodCallExpression(call)
                }
            }
            classNode.methods.each { MethodNode m -> m.code?.visit(visitor) }
            classNode.declaredConstructors.each { MethodNode m -> m.code?.visit(visitor) }
            classNode.objectInitializerStatements.each { Statement st -> st.visit(visitor) }
            classNode.fields.each { FieldNode f -> f.initialValueExpression?.visit(visitor) }
        }
    }

    /** The library names of every `@Library(...)` annotation (on `_`, on an import, or on a class), "rel@main" -> "rel". */
    static List<String> collectLibraries(String source) {
        CompilationUnit cu = new CompilationUnit(new CompilerConfiguration(), null, new GroovyClassLoader())
        SourceUnit su = cu.addSource(SCRIPT_NAME, source)
        cu.compile(Phases.CONVERSION)
        ModuleNode module = su.AST
        List<AnnotationNode> annotations = []
        module.imports.each { ImportNode i -> annotations.addAll(i.annotations) }
        module.starImports.each { ImportNode i -> annotations.addAll(i.annotations) }
        module.classes.each { ClassNode c -> annotations.addAll(c.annotations) }
        module.statementBlock.statements.each { Statement st ->
            if (st instanceof ExpressionStatement && ((ExpressionStatement) st).expression instanceof DeclarationExpression) {
                annotations.addAll(((AnnotatedNode) ((ExpressionStatement) st).expression).annotations)
            }
        }
        List<String> names = []
        annotations.findAll { it.classNode.nameWithoutPackage == 'Library' }.each { AnnotationNode a ->
            Expression v = a.getMember('value')
            List<Expression> items = v instanceof ListExpression ? ((ListExpression) v).expressions : [v]
            items.each { Expression e ->
                if (e instanceof ConstantExpression) names << String.valueOf(((ConstantExpression) e).value).split('@')[0]
            }
        }
        return names.unique()
    }
}

// ---------------------------------------------------------------- section builders (top-level: Groovy 2.4 does not allow
// methodMissing/propertyMissing in static inner classes)

/** Base of the section builders: names that are not sections are read from the script (env, params, ...). */
abstract class Builder {
    protected final PipelineModel.Parser parser_
    Builder(PipelineModel.Parser p) { parser_ = p }
    def propertyMissing(String name) { parser_.script.getProperty(name) }
    def methodMissing(String name, Object args) { unknown(name, (Object[]) args); return null }
    abstract void unknown(String name, Object[] args)
    protected void err(String msg) { parser_.error(msg) }
    protected static Closure closureArg(Object[] args) { args && args[-1] instanceof Closure ? (Closure) args[-1] : null }
}

class RootBuilder extends Builder {
    final PipelineModel.Root root = new PipelineModel.Root()
    private final Set<String> seen = [] as Set

    RootBuilder(PipelineModel.Parser p) { super(p) }

    private boolean once(String section) {
        if (!seen.add(section)) { err("Multiple occurrences of the ${section} section"); return false }
        return true
    }

    def getAny() { new PipelineModel.AgentDef(type: 'any') }
    def getNone() { new PipelineModel.AgentDef(type: 'none') }

    void agent(Object a) { if (once('agent')) root.agent = AgentBuilder.parse(parser_, a) }
    void options(Closure c) { if (once('options')) root.options = OptionsBuilder.parse(parser_, c, true) }
    void parameters(Closure c) { if (once('parameters')) root.parameters = ParametersBuilder.parse(parser_, c) }
    void triggers(Closure c) {
        if (!once('triggers')) return
        TriggersBuilder tb = new TriggersBuilder(parser_)
        PipelineModel.Parser.eval(c, tb)
        root.triggers = tb.triggers
    }
    void environment(Closure c) { if (once('environment')) root.environment = c }
    void stages(Closure c) { if (once('stages')) root.stages = StagesBuilder.parse(parser_, c, null) }
    void post(Closure c) { if (once('post')) root.post = PostBuilder.parse(parser_, c) }

    void unknown(String name, Object[] args) {
        if (name in ['tools', 'libraries', 'input', 'matrix']) {
            err("The \"${name}\" section is valid in some Jenkins contexts but is not emulated by the pipeline stand-in")
        } else {
            err("Undefined section \"${name}\"")
        }
    }

    void finish() {
        if (root.agent == null) err('Missing required section "agent"')
        if (!seen.contains('stages')) err('Missing required section "stages"')
        else if (root.stages.isEmpty()) err('No stages specified')
        checkNames(root.stages)
    }

    /** Like Jenkins' validator: stage names must be unique among the stages of one stages/parallel block. */
    private void checkNames(List<PipelineModel.StageDef> stages) {
        Set<String> names = [] as Set
        stages.each { PipelineModel.StageDef s ->
            if (!names.add(s.name)) parser_.errors << "${PipelineModel.SCRIPT_NAME}: ${s.line}: Duplicate stage name: \"${s.name}\" @ line ${s.line}.".toString()
            if (s.stages) checkNames(s.stages)
            if (s.parallel) checkNames(s.parallel)
        }
    }
}

class AgentBuilder extends Builder {
    PipelineModel.AgentDef agent
    AgentBuilder(PipelineModel.Parser p) { super(p) }

    static PipelineModel.AgentDef parse(PipelineModel.Parser p, Object a) {
        if (a instanceof PipelineModel.AgentDef) return (PipelineModel.AgentDef) a
        if (a instanceof Closure) {
            AgentBuilder ab = new AgentBuilder(p)
            PipelineModel.Parser.eval((Closure) a, ab)
            if (ab.agent == null) p.error('No agent type specified. Must be one of [any, label, none] (docker and others are not emulated)')
            return ab.agent ?: new PipelineModel.AgentDef(type: 'any')
        }
        if (a instanceof Map && ((Map) a).label) return new PipelineModel.AgentDef(type: 'label', label: String.valueOf(((Map) a).label))
        p.error('Only "agent none", "agent any" or "agent {...}" are allowed.')
        return new PipelineModel.AgentDef(type: 'any')
    }

    void label(Object l) { set(new PipelineModel.AgentDef(type: 'label', label: String.valueOf(l))) }
    void node(Closure c) {
        NodeBuilder nb = new NodeBuilder(parser_)
        PipelineModel.Parser.eval(c, nb)
        set(new PipelineModel.AgentDef(type: 'label', label: nb.label ?: ''))
    }
    private void set(PipelineModel.AgentDef a) {
        if (agent != null) err('Only one agent type is allowed per agent section')
        agent = a
    }
    void unknown(String name, Object[] args) {
        if (name in ['docker', 'dockerfile', 'kubernetes']) err("Agent type \"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in")
        else err("Invalid agent type \"${name}\" specified. Must be one of [any, label, none]")
    }
}

class NodeBuilder extends Builder {
    String label
    NodeBuilder(PipelineModel.Parser p) { super(p) }
    void label(Object l) { label = String.valueOf(l) }
    void unknown(String name, Object[] args) {
        err("Invalid config option \"${name}\" for agent type \"node\" (the stand-in emulates only \"label\")")
    }
}

class OptionsBuilder extends Builder {
    /** Options the stand-in applies (timeout, skipStagesAfterUnstable, parallelsAlwaysFailFast) or that have no effect on a single build run here. */
    static final List<String> ROOT_OPTIONS = ['buildDiscarder', 'disableConcurrentBuilds', 'disableResume', 'durabilityHint',
                                              'overrideIndexTriggers', 'parallelsAlwaysFailFast', 'preserveStashes', 'quietPeriod',
                                              'skipDefaultCheckout', 'skipStagesAfterUnstable', 'timeout', 'timestamps'].asImmutable()
    static final List<String> STAGE_OPTIONS = ['retry', 'skipDefaultCheckout', 'timeout', 'timestamps'].asImmutable()
    /** Valid Jenkins options that would change behaviour the stand-in does not reproduce: rejected, not silently ignored. */
    static final List<String> NOT_EMULATED = ['ansiColor', 'checkoutToSubdirectory', 'copyArtifactPermission', 'lock',
                                              'newContainerPerStage', 'rateLimitBuilds', 'retry', 'throttleJobProperty',
                                              'githubProjectProperty', 'catchError', 'warnError'].asImmutable()

    final boolean rootLevel
    final List<PipelineModel.OptionDef> options = []

    OptionsBuilder(PipelineModel.Parser p, boolean rootLevel) { super(p); this.rootLevel = rootLevel }

    static List<PipelineModel.OptionDef> parse(PipelineModel.Parser p, Closure c, boolean rootLevel) {
        OptionsBuilder ob = new OptionsBuilder(p, rootLevel)
        PipelineModel.Parser.eval(c, ob)
        return ob.options
    }

    /** logRotator(...) is an argument of buildDiscarder, not an option of its own. */
    def logRotator(Map args) {
        args.keySet().each { k ->
            if (!(k in ['numToKeepStr', 'daysToKeepStr', 'artifactNumToKeepStr', 'artifactDaysToKeepStr'])) {
                err("Invalid parameter \"${k}\" for logRotator")
            }
        }
        return new PipelineModel.OptionDef(name: 'logRotator', args: args)
    }

    void unknown(String name, Object[] args) {
        List<String> valid = rootLevel ? ROOT_OPTIONS : STAGE_OPTIONS
        if (!(name in valid)) {
            if (name in NOT_EMULATED) err("Option \"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in")
            else err("Invalid option type \"${name}\". Valid option types: ${valid}")
            return
        }
        if (options.find { it.name == name }) { err("Duplicate option name: \"${name}\""); return }
        PipelineModel.OptionDef o = new PipelineModel.OptionDef(name: name)
        List rest = args as List
        if (rest && rest[0] instanceof Map) o.args = (Map) rest.remove(0)
        if (rest && rest[0] instanceof PipelineModel.OptionDef) o.nested = (PipelineModel.OptionDef) rest.remove(0)
        if (rest) o.positional = rest.remove(0)
        if (rest) err("Too many arguments for option \"${name}\"")
        if (name == 'timeout') {
            if (o.positional != null && !o.args.time) { o.args = [time: o.positional]; o.positional = null }
            validateTimeout(parser_, o.args)
        }
        if (name == 'buildDiscarder' && o.nested == null) err('buildDiscarder needs a strategy, e.g. buildDiscarder(logRotator(numToKeepStr: \'10\'))')
        if (name == 'retry' && !(o.positional instanceof Number) && !(o.args.count instanceof Number)) err('retry needs a count, e.g. retry(2)')
        options << o
    }

    static void validateTimeout(PipelineModel.Parser p, Map args) {
        args.keySet().each { k -> if (!(k in ['time', 'unit', 'activity'])) p.error("Invalid parameter \"${k}\" for timeout; valid parameters: [time, unit, activity]") }
        if (args.activity) p.error('timeout(activity: true) is valid in Jenkins but is not emulated by the pipeline stand-in')
        if (!(args.time instanceof Number)) p.error("timeout needs a numeric \"time\", got ${args.time == null ? 'nothing' : "'${args.time}'"}")
        if (args.unit != null && !(String.valueOf(args.unit) in TimeUnit.values()*.name())) {
            p.error("Invalid timeout unit '${args.unit}'; valid units: ${TimeUnit.values()*.name()}")
        }
    }
}

class ParametersBuilder extends Builder {
    static final List<String> TYPES = ['booleanParam', 'choice', 'string', 'text'].asImmutable()
    static final Map<String, List<String>> KEYS = [
            string      : ['name', 'defaultValue', 'description', 'trim'],
            text        : ['name', 'defaultValue', 'description', 'trim'],
            booleanParam: ['name', 'defaultValue', 'description'],
            choice      : ['name', 'choices', 'description'],
    ]
    final List<PipelineModel.ParamDef> params = []

    ParametersBuilder(PipelineModel.Parser p) { super(p) }

    static List<PipelineModel.ParamDef> parse(PipelineModel.Parser p, Closure c) {
        ParametersBuilder pb = new ParametersBuilder(p)
        PipelineModel.Parser.eval(c, pb)
        return pb.params
    }

    void unknown(String name, Object[] args) {
        if (!(name in TYPES)) {
            if (name in ['password', 'file', 'credentials', 'run', 'base64File', 'stashedFile']) {
                err("Parameter type \"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in")
            } else {
                err("Invalid parameter type \"${name}\". Valid parameter types: ${TYPES}")
            }
            return
        }
        if (args.length != 1 || !(args[0] instanceof Map)) { err("Arguments to \"${name}\" must be explicitly named."); return }
        PipelineModel.ParamDef d = define(parser_, name, (Map) args[0])
        if (d == null) return
        if (params.find { it.name == d.name }) { err("Duplicate parameter name: \"${d.name}\""); return }
        params << d
    }

    /** Build a parameter definition, as in `parameters {}` and in `input(parameters: [...])`. */
    static PipelineModel.ParamDef define(PipelineModel.Parser p, String type, Map args) {
        args.keySet().each { k ->
            if (!(k in KEYS[type])) p.error("Invalid parameter \"${k}\" for ${type}; valid parameters: ${KEYS[type]}")
        }
        if (!args.name) { p.error("Missing required parameter: \"name\" for ${type}"); return null }
        PipelineModel.ParamDef d = new PipelineModel.ParamDef(type: type, name: String.valueOf(args.name), description: args.description?.toString())
        switch (type) {
            case 'booleanParam':
                if (args.defaultValue != null && !(args.defaultValue instanceof Boolean)) {
                    p.error("Expecting \"boolean\" for parameter \"defaultValue\" of booleanParam \"${d.name}\" but got \"${args.defaultValue}\"")
                }
                d.defaultValue = args.defaultValue == null ? false : args.defaultValue
                break
            case 'choice':
                Object ch = args.choices
                List<String> choices = ch instanceof CharSequence ? ch.toString().split('\n').toList() : (ch instanceof List ? ((List) ch).collect { String.valueOf(it) } : null)
                if (!choices) { p.error("choice \"${d.name}\" needs a non-empty \"choices\" list"); choices = [''] }
                d.choices = choices
                d.defaultValue = choices[0]         // Jenkins: the first choice is the default
                break
            default:
                d.trim = args.trim == true
                d.defaultValue = args.defaultValue == null ? '' : args.defaultValue.toString()
        }
        return d
    }
}

class TriggersBuilder extends Builder {
    final List<String> triggers = []
    TriggersBuilder(PipelineModel.Parser p) { super(p) }
    void cron(String spec) { triggers << "cron('${spec}')".toString() }
    void pollSCM(String spec) { triggers << "pollSCM('${spec}')".toString() }
    void upstream(Map args) { triggers << "upstream(${args})".toString() }
    void unknown(String name, Object[] args) { err("Invalid trigger type \"${name}\". Valid trigger types: [cron, pollSCM, upstream]") }
}

class StagesBuilder extends Builder {
    final List<PipelineModel.StageDef> stages = []
    final PipelineModel.StageDef parent
    final String what

    StagesBuilder(PipelineModel.Parser p, PipelineModel.StageDef parent, String what) { super(p); this.parent = parent; this.what = what }

    static List<PipelineModel.StageDef> parse(PipelineModel.Parser p, Closure c, PipelineModel.StageDef parent, String what = 'stages') {
        StagesBuilder sb = new StagesBuilder(p, parent, what)
        PipelineModel.Parser.eval(c, sb)
        return sb.stages
    }

    void stage(Object name, Closure body) {
        StageBuilder b = new StageBuilder(parser_, new PipelineModel.StageDef(name: String.valueOf(name), line: PipelineModel.Parser.callerLine(), parent: parent))
        PipelineModel.Parser.eval(body, b)
        b.finish()
        stages << b.stage
    }

    void unknown(String name, Object[] args) {
        if (name == 'stage') err('A stage needs a name and a block: stage(\'Name\') { ... }')
        else err("Expected a stage (in ${what}), got \"${name}\"")
    }
}

class StageBuilder extends Builder {
    final PipelineModel.StageDef stage
    private final Set<String> seen = [] as Set

    StageBuilder(PipelineModel.Parser p, PipelineModel.StageDef s) { super(p); stage = s }

    private boolean once(String section) {
        if (!seen.add(section)) { err("Multiple occurrences of the ${section} section in stage \"${stage.name}\""); return false }
        return true
    }

    def getAny() { new PipelineModel.AgentDef(type: 'any') }
    def getNone() { new PipelineModel.AgentDef(type: 'none') }

    void agent(Object a) { if (once('agent')) stage.agent = AgentBuilder.parse(parser_, a) }
    void when(Closure c) {
        if (!once('when')) return
        PipelineModel.WhenDef w = WhenBuilder.parse(parser_, c, true)
        if (w.conds.isEmpty()) err("Empty when block in stage \"${stage.name}\"")
        stage.when = c
        stage.beforeAgent = w.beforeAgent; stage.beforeInput = w.beforeInput; stage.beforeOptions = w.beforeOptions
    }
    void options(Closure c) { if (once('options')) stage.options = OptionsBuilder.parse(parser_, c, false) }
    void environment(Closure c) { if (once('environment')) stage.environment = c }
    void input(Closure c) { if (once('input')) stage.input = InputBuilder.parse(parser_, c) }
    void steps(Closure c) { if (once('steps')) stage.steps = c }
    void stages(Closure c) {
        if (!once('stages')) return
        stage.stages = StagesBuilder.parse(parser_, c, stage)
        if (stage.stages.isEmpty()) err("No stages specified in stage \"${stage.name}\"")
    }
    void parallel(Closure c) {
        if (!once('parallel')) return
        stage.parallel = StagesBuilder.parse(parser_, c, stage, 'parallel')
        if (stage.parallel.isEmpty()) err("No parallel stages specified in stage \"${stage.name}\"")
    }
    void failFast(boolean b) { stage.failFast = b }
    void post(Closure c) { if (once('post')) stage.post = PostBuilder.parse(parser_, c) }

    void unknown(String name, Object[] args) {
        if (name in ['tools', 'matrix']) err("The \"${name}\" section is valid in Jenkins but is not emulated by the pipeline stand-in")
        else err("Unknown stage section \"${name}\". Starting with version 0.5, steps in a stage must be in a \u2018steps\u2019 block.")
    }

    void finish() {
        int n = [stage.steps, stage.stages, stage.parallel].count { it != null }
        if (n == 0) err("Nothing to execute within stage \"${stage.name}\"")
        if (n > 1) err("Only one of \"matrix\", \"parallel\", \"stages\", or \"steps\" allowed for stage \"${stage.name}\"")
        if (stage.parallel != null && stage.agent != null) err("\"agent\" is not allowed in stage \"${stage.name}\" as it contains parallel or matrix stages")
        if (stage.failFast && stage.parallel == null) err("failFast is only allowed in a stage with parallel stages (stage \"${stage.name}\")")
    }
}

class InputBuilder extends Builder {
    final PipelineModel.InputDef input = new PipelineModel.InputDef()
    InputBuilder(PipelineModel.Parser p) { super(p) }

    static PipelineModel.InputDef parse(PipelineModel.Parser p, Closure c) {
        InputBuilder ib = new InputBuilder(p)
        PipelineModel.Parser.eval(c, ib)
        if (!ib.input.message) p.error('No message specified for input')
        return ib.input
    }

    void message(Object v) { input.message = String.valueOf(v) }
    void id(Object v) { input.id = String.valueOf(v) }
    void ok(Object v) { input.ok = String.valueOf(v) }
    void submitter(Object v) { input.submitter = String.valueOf(v) }
    void submitterParameter(Object v) { input.submitterParameter = String.valueOf(v) }
    void parameters(Closure c) { input.parameters = ParametersBuilder.parse(parser_, c) }
    void unknown(String name, Object[] args) { err("Not a valid field for input: \"${name}\"") }
}

class PostBuilder extends Builder {
    final PipelineModel.PostDef post = new PipelineModel.PostDef()
    PostBuilder(PipelineModel.Parser p) { super(p) }

    static PipelineModel.PostDef parse(PipelineModel.Parser p, Closure c) {
        PostBuilder pb = new PostBuilder(p)
        PipelineModel.Parser.eval(c, pb)
        if (pb.post.conditions.isEmpty()) p.error('post can not be empty')
        return pb.post
    }

    void unknown(String name, Object[] args) {
        Closure body = closureArg(args)
        if (!(name in PipelineModel.POST_CONDITIONS)) { err("Invalid condition \"${name}\" - valid conditions are ${PipelineModel.POST_CONDITIONS}"); return }
        if (body == null || args.length != 1) { err("The \u2018post\u2019 section can only contain build condition names with code blocks. Valid condition names are ${PipelineModel.POST_CONDITIONS}"); return }
        if (post.has(name)) { err("Duplicate build condition name: \"${name}\""); return }
        post.conditions[name] = body
    }
}

/**
 * `when { ... }`. Used at parse time (validation) and again at run time: Jenkins instantiates the
 * conditions from the raw closure when the stage runs, so `environment name:, value:` and
 * `equals actual:` see the values of that moment.
 */
class WhenBuilder extends Builder {
    static final List<String> CONDITIONS = ['allOf', 'anyOf', 'branch', 'environment', 'equals', 'expression', 'not'].asImmutable()
    static final List<String> NOT_EMULATED = ['buildingTag', 'changeRequest', 'changelog', 'changeset', 'isRestartedRun', 'tag', 'triggeredBy'].asImmutable()

    final PipelineModel.WhenDef when = new PipelineModel.WhenDef()
    final boolean top

    WhenBuilder(PipelineModel.Parser p, boolean top) { super(p); this.top = top }

    static PipelineModel.WhenDef parse(PipelineModel.Parser p, Closure c, boolean top) {
        WhenBuilder wb = new WhenBuilder(p, top)
        PipelineModel.Parser.eval(c, wb)
        return wb.when
    }

    void expression(Closure c) { when.conds << new PipelineModel.Cond(type: 'expression', expression: c) }
    void not(Closure c) {
        PipelineModel.WhenDef inner = parse(parser_, c, false)
        if (inner.conds.size() != 1) err("\"not\" needs exactly one condition, got ${inner.conds.size()}")
        when.conds << new PipelineModel.Cond(type: 'not', children: inner.conds)
    }
    void allOf(Closure c) { when.conds << new PipelineModel.Cond(type: 'allOf', children: parse(parser_, c, false).conds) }
    void anyOf(Closure c) { when.conds << new PipelineModel.Cond(type: 'anyOf', children: parse(parser_, c, false).conds) }
    void environment(Map args) {
        checkKeys('environment', args, ['name', 'value', 'ignoreCase'], ['name', 'value'])
        when.conds << new PipelineModel.Cond(type: 'environment', args: args)
    }
    /** `equals expected:, actual:` (renamed at compile time, see PipelineModel.ShadowedStepCalls). */
    void whenEquals(Map args) {
        checkKeys('equals', args, ['expected', 'actual'], ['expected', 'actual'])
        when.conds << new PipelineModel.Cond(type: 'equals', args: args)
    }
    void branch(Object pattern) {
        Map args = pattern instanceof Map ? (Map) pattern : [pattern: pattern]
        checkKeys('branch', args, ['pattern', 'comparator'], ['pattern'])
        if (args.comparator && !(args.comparator in ['GLOB', 'EQUALS', 'REGEXP'])) err("Invalid comparator \"${args.comparator}\" for branch")
        when.conds << new PipelineModel.Cond(type: 'branch', args: args)
    }
    void beforeAgent(boolean b) { topOnly('beforeAgent'); when.beforeAgent = b }
    void beforeInput(boolean b) { topOnly('beforeInput'); when.beforeInput = b }
    void beforeOptions(boolean b) { topOnly('beforeOptions'); when.beforeOptions = b }

    private void topOnly(String what) { if (!top) err("${what} is only allowed directly inside when") }

    private void checkKeys(String cond, Map args, List<String> allowed, List<String> required) {
        args.keySet().each { k -> if (!(k in allowed)) err("Invalid parameter \"${k}\" for when condition ${cond}; valid parameters: ${allowed}") }
        required.each { k -> if (!args.containsKey(k)) err("Missing required parameter \"${k}\" for when condition ${cond}") }
    }

    void unknown(String name, Object[] args) {
        if (name in NOT_EMULATED) err("when condition \"${name}\" is valid in Jenkins but is not emulated by the pipeline stand-in")
        else err("Unknown conditional ${name}. Valid conditionals are: ${CONDITIONS}")
    }
}

/**
 * `environment { KEY = 'value'; CRED = credentials('id') }`, evaluated when the pipeline/stage
 * starts (Jenkins evaluates it lazily too). Each assignment is handed to `sink` immediately so
 * later values can refer to earlier ones (`B = "${A}-x"` or `"${env.A}"`).
 */
class EnvBuilder {
    private final Object script_
    private final Closure sink_        // (String name, Object value) -> void
    private final Map<String, Object> values_ = [:]

    EnvBuilder(Object script_, Closure sink_) { this.script_ = script_; this.sink_ = sink_ }

    static void run(Object script_, Closure body, Closure sink_) {
        Closure cl = (Closure) body.clone()
        cl.delegate = new EnvBuilder(script_, sink_)
        cl.resolveStrategy = Closure.DELEGATE_ONLY
        cl.call()
    }

    def propertyMissing(String name) {
        if (values_.containsKey(name)) return values_[name]
        return script_.getProperty(name)
    }

    def propertyMissing(String name, Object value) {
        if (!(name ==~ /[A-Za-z_][A-Za-z0-9_]*/)) {
            throw new IllegalArgumentException("\"${name}\" is not a valid identifier and cannot be used for an environment variable. Identifiers must start with a letter or underscore and can contain only letters, numbers or underscores.")
        }
        values_[name] = value instanceof PipelineModel.CredentialRef ? value : (value == null ? null : value.toString())
        sink_.call(name, values_[name])
    }

    PipelineModel.CredentialRef credentials(Object id) { new PipelineModel.CredentialRef(id: String.valueOf(id)) }

    /** Function calls on the right-hand side (e.g. `sh(returnStdout: true, ...)`) go to the script_. */
    def methodMissing(String name, Object args) { script_.invokeMethod(name, args) }
}

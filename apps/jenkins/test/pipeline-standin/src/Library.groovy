import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy

/**
 * Stand-in for Jenkins' org.jenkinsci.plugins.workflow.libs.Library annotation, so that
 * `@Library('rel') _` at the top of a Jenkinsfile parses. The runner reads the annotation
 * values from the Jenkinsfile's syntax tree (see PipelineModel.collectLibraries) and loads
 * the matching entries of the spec's "libraries" map.
 */
@Retention(RetentionPolicy.SOURCE)
@interface Library {
    String[] value()
    boolean changelog() default true
}

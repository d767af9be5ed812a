package org.jenkinsci.plugins.workflow.steps

import hudson.model.Result
import jenkins.model.CauseOfInterruption

/**
 * Like Jenkins' FlowInterruptedException: thrown when an `input` is aborted, a `timeout`
 * expires, or a parallel branch is cut short by failFast. It is an InterruptedException, so
 * `catch (err)` in a script block catches it. Its result (normally ABORTED) becomes the stage
 * and build result when it is not caught.
 */
class FlowInterruptedException extends InterruptedException {
    final Result result
    final List<CauseOfInterruption> causes
    final boolean actualInterruption

    FlowInterruptedException(Result result, CauseOfInterruption... causes) {
        this(result, true, causes)
    }

    FlowInterruptedException(Result result, boolean actualInterruption, CauseOfInterruption... causes) {
        super()
        this.result = result
        this.actualInterruption = actualInterruption
        this.causes = Collections.unmodifiableList(Arrays.asList(causes))
    }

    Result getResult() { result }
    List<CauseOfInterruption> getCauses() { causes }
    boolean isActualInterruption() { actualInterruption }
}

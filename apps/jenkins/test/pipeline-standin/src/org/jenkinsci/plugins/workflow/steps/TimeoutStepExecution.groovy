package org.jenkinsci.plugins.workflow.steps

import jenkins.model.CauseOfInterruption

/** Holder for the cause class Jenkins uses when a `timeout` expires (TimeoutStepExecution.ExceededTimeout). */
class TimeoutStepExecution {
    static class ExceededTimeout extends CauseOfInterruption {
        String getShortDescription() { 'Timeout has been exceeded' }
    }
}

package jenkins.model

/** Like jenkins.model.CauseOfInterruption: why a build or step was interrupted. */
abstract class CauseOfInterruption implements Serializable {
    abstract String getShortDescription()
    String toString() { getShortDescription() }

    /** Like CauseOfInterruption.UserInterruption ("Aborted by alice"). */
    static class UserInterruption extends CauseOfInterruption {
        final String user
        UserInterruption(String user) { this.user = user }
        String getUser() { user }
        String getShortDescription() { "Aborted by ${user}".toString() }
    }
}

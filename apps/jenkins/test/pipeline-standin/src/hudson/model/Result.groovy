package hudson.model

/**
 * Like Jenkins' hudson.model.Result: SUCCESS < UNSTABLE < FAILURE < NOT_BUILT < ABORTED.
 * Singletons, so == compares identity as in Jenkins.
 */
class Result implements Serializable {
    static final Result SUCCESS = new Result('SUCCESS', 0)
    static final Result UNSTABLE = new Result('UNSTABLE', 1)
    static final Result FAILURE = new Result('FAILURE', 2)
    static final Result NOT_BUILT = new Result('NOT_BUILT', 3)
    static final Result ABORTED = new Result('ABORTED', 4)
    static final List<Result> ALL = [SUCCESS, UNSTABLE, FAILURE, NOT_BUILT, ABORTED].asImmutable()

    final String name
    final int ordinal

    private Result(String name, int ordinal) { this.name = name; this.ordinal = ordinal }

    boolean isWorseThan(Result that) { ordinal > that.ordinal }
    boolean isWorseOrEqualTo(Result that) { ordinal >= that.ordinal }
    boolean isBetterThan(Result that) { ordinal < that.ordinal }
    boolean isBetterOrEqualTo(Result that) { ordinal <= that.ordinal }
    boolean isCompleteBuild() { ordinal <= FAILURE.ordinal }

    /** The worse of the two, as Result.combine. */
    Result combine(Result that) { that != null && that.ordinal > ordinal ? that : this }

    /** Jenkins' Result.fromString: case-insensitive; anything unknown becomes FAILURE. */
    static Result fromString(String s) {
        Result r = ALL.find { it.name.equalsIgnoreCase(s ?: '') }
        return r ?: FAILURE
    }

    /** null when s is not one of the five names (the stand-in uses this to warn). */
    static Result parseOrNull(String s) { ALL.find { it.name.equalsIgnoreCase(s ?: '') } }

    String toString() { name }
}

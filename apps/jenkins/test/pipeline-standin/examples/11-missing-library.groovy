@Library('not-in-the-spec') _

// A library the spec does not provide: the build fails before anything runs.
pipeline {
    agent any
    stages {
        stage('Never') { steps { echo 'must not run' } }
    }
}

// Validation: every mistake is reported and nothing runs (the first stage would create a file).
pipeline {
    agent any
    options {
        timeout(time: 10, unit: 'MINUTS')
        ansiColor('xterm')
        frobnicate()
    }
    parameters {
        string(name: 'VERSION', defaultValu: 'x')
        password(name: 'SECRET')
        listParam(name: 'L')
    }
    stages {
        stage('Would run') {
            steps { sh 'touch must-not-exist' }
        }
        stage('No steps') {
            when { branchy 'main' }
        }
        stage('Two bodies') {
            steps { echo 'a' }
            stages { stage('Inner') { steps { echo 'b' } } }
        }
        stage('Unknown section') {
            step { echo 'a' }
            steps { echo 'b' }
        }
    }
    post {
        allways { echo 'typo' }
        success { echo 'ok' }
    }
    notifications { }
}

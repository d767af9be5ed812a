// Stage-level features: environment with credentials, input directive, options timeout/retry,
// nested stages with post, skipStagesAfterUnstable, when beforeInput.
pipeline {
    agent any
    options {
        skipStagesAfterUnstable()
    }
    stages {
        stage('Approve via directive') {
            input {
                message 'Release?'
                ok 'Release'
                submitterParameter 'APPROVER'
                parameters {
                    choice(name: 'COLOUR', choices: ['blue', 'green'], description: 'target')
                }
            }
            environment {
                TOKEN = credentials('rel-registry-token')
                DERIVED = "${env.APPROVER}-derived"
            }
            steps {
                sh 'echo "approver=$APPROVER colour=$COLOUR token=$TOKEN derived=$DERIVED"'
            }
        }
        stage('Skipped before input') {
            when {
                beforeInput true
                expression { false }
            }
            input { message 'never asked' }
            steps { echo 'must not run' }
        }
        stage('Nested') {
            options {
                timeout(time: 1, unit: 'MINUTES')
                retry(2)
            }
            stages {
                stage('Inner one') {
                    steps { sh 'echo inner one' }
                }
                stage('Inner two') {
                    steps { unstable 'inner two is unstable' }
                }
            }
            post {
                unstable { echo 'nested post unstable' }
            }
        }
        stage('Skipped after unstable') {
            steps { echo 'must not run' }
        }
    }
}

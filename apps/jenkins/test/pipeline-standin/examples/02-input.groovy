import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

// input: proceed (submitterParameter returns the submitter), abort caught in script, refused
// submitter, timeout around an input nobody answers, then an uncaught abort that ends the build.
pipeline {
    agent any
    stages {
        stage('Approve') {
            steps {
                script {
                    def approver = input(message: 'Switch traffic to green?', ok: 'Switch', submitter: 'alice,bob', submitterParameter: 'APPROVER', id: 'switch')
                    echo "approved by ${approver}"
                    def plain = input message: 'Plain question?'
                    echo "plain answer is ${plain == null ? 'null' : plain}"
                }
            }
        }
        stage('Abort caught') {
            steps {
                script {
                    try {
                        input message: 'Deploy anyway?'
                        echo 'must not run'
                    } catch (FlowInterruptedException err) {
                        echo "caught abort: result=${err.result} cause=${err.causes[0].shortDescription}"
                    }
                    try {
                        timeout(time: 1, unit: 'SECONDS') {
                            input message: 'Nobody answers this'
                        }
                    } catch (err) {
                        echo "caught timeout: ${err.causes[0].shortDescription}"
                    }
                }
            }
        }
        stage('Abort uncaught') {
            steps {
                input message: 'Last chance?'
                echo 'must not run'
            }
        }
        stage('Never') {
            steps { echo 'must not run' }
        }
    }
    post {
        aborted { echo "post aborted: ${currentBuild.result}" }
        failure { echo 'must not run' }
    }
}

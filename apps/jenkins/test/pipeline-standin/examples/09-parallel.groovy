// agent none (steps that need a workspace fail outside a stage agent), parallel stages with failFast.
pipeline {
    agent none
    stages {
        stage('No node') {
            steps {
                echo 'echo needs no node'
                script {
                    try {
                        sh 'echo must not run'
                    } catch (err) {
                        echo "no node: ${err.message.take(60)}"
                    }
                }
            }
        }
        stage('Checks') {
            failFast true
            parallel {
                stage('Quick fail') {
                    agent any
                    steps {
                        sh 'sleep 0.5; echo failing; exit 1'
                    }
                }
                stage('Slow') {
                    agent any
                    steps {
                        sh 'echo slow-start; sleep 20; echo slow-end'
                    }
                }
            }
        }
    }
    post {
        always {
            echo "post always: ${currentBuild.currentResult}"
        }
    }
}

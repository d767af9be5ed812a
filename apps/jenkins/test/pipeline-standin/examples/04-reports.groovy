// junit (valid report, no unstable marking), archiveArtifacts globbing, currentBuild.result worsen-only.
pipeline {
    agent any
    stages {
        stage('Reports') {
            steps {
                sh '''
                    mkdir -p rel-report/logs/deep other
                    cp "$FIXTURES/junit-valid.xml" rel-report/junit.xml
                    echo "# summary" > rel-report/summary.md
                    echo log > rel-report/logs/deep/a.log
                    echo x > other/ignored.txt
                    echo y > rel-report/.gitignore
                '''
                junit(testResults: 'rel-report/junit.xml', allowEmptyResults: true, skipMarkingBuildUnstable: true)
                archiveArtifacts(artifacts: 'rel-report/**', allowEmptyArchive: true, fingerprint: true)
                archiveArtifacts artifacts: 'other/*.txt, rel-report/*.md', excludes: 'rel-report/summary.md'
                script {
                    def summary = readFile('rel-report/summary.md').trim()
                    writeFile(file: 'out/written.txt', text: "read: ${summary}")
                    echo "exists: ${fileExists('out/written.txt')} ${fileExists('nope.txt')} result=${currentBuild.result}"
                }
                junit testResults: 'nothing/*.xml', allowEmptyResults: true
            }
        }
        stage('Result') {
            steps {
                script {
                    currentBuild.result = 'UNSTABLE'
                    currentBuild.result = 'SUCCESS'      // cannot make it better
                    echo "after SUCCESS: ${currentBuild.result}"
                }
                unstable('tests are flaky')
            }
        }
        stage('Junit marks unstable') {
            steps {
                junit 'rel-report/junit.xml'
            }
        }
    }
    post {
        unstable { echo "post unstable: ${currentBuild.currentResult}" }
    }
}

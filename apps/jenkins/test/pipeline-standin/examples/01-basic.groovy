@Library('rel') _

// Stages, when, failing sh, post order, parameters, environment, library vars, streaming.
pipeline {
    agent any
    options {
        timeout(time: 5, unit: 'MINUTES')
        disableConcurrentBuilds()
        timestamps()
        buildDiscarder(logRotator(numToKeepStr: '10'))
        skipDefaultCheckout()
    }
    parameters {
        string(name: 'VERSION', defaultValue: 'v1', description: 'version to release', trim: true)
        booleanParam(name: 'REPLICATE', defaultValue: true, description: 'replicate?')
        choice(name: 'TARGET', choices: ['blue', 'green'], description: 'colour')
    }
    environment {
        GREETING = "hello ${params.VERSION}"
        GREETING2 = "${GREETING}!"
    }
    stages {
        stage('Params') {
            steps {
                echo "types: ${params.VERSION.getClass().simpleName} ${params.REPLICATE.getClass().simpleName} ${params.TARGET}"
                sh 'echo "env: VERSION=$VERSION REPLICATE=$REPLICATE TARGET=$TARGET GREETING2=$GREETING2 STAGE=$STAGE_NAME BUILD=$BUILD_NUMBER"'
                script {
                    if (params.REPLICATE != false) error('REPLICATE should be the boolean false')
                    env.SET_IN_SCRIPT = 'from-script'
                    currentBuild.description = "release ${params.VERSION}"
                }
            }
        }
        stage('Stream') {
            steps {
                sh 'echo first; sleep 1; echo second'
            }
        }
        stage('Library') {
            steps {
                relGreet(name: 'alice')
                script {
                    String loud = relGreet.shout('bob')
                    int code = relGreet.exitOf('exit 4')
                    echo "loud=${loud} code=${code} notes=${relNotes()} env=${env.SET_IN_SCRIPT}"
                }
            }
        }
        stage('Skipped by when') {
            when {
                allOf {
                    expression { return params.VERSION == 'v2' }
                    not { environment name: 'TARGET', value: 'green' }
                }
            }
            steps { echo 'must not run' }
        }
        stage('Runs by when') {
            when {
                anyOf {
                    environment name: 'TARGET', value: 'green'
                    expression { false }
                }
            }
            steps { echo 'ran by when' }
        }
        stage('Equals') {
            when {
                equals expected: 7, actual: currentBuild.number
            }
            steps {
                println "println reaches the log"
                sleep(time: 10, unit: 'MILLISECONDS')
            }
        }
        stage('Fail') {
            steps {
                sh 'echo before failing; exit 3'
                echo 'must not run'
            }
            post {
                failure { echo 'stage failure post' }
            }
        }
        stage('After failure') {
            steps { echo 'must not run' }
        }
    }
    post {
        cleanup { echo 'post cleanup' }
        success { echo 'post success' }
        failure { echo "post failure result=${currentBuild.result} current=${currentBuild.currentResult}" }
        unsuccessful { echo 'post unsuccessful' }
        always { echo "post always" }
        changed { echo 'post changed' }
    }
}
